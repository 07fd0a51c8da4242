// The schema-driven hostile-input sweep: every query and mutation the gateway serves, with each
// argument position in turn given hostile values generated from its type (bad ids and cursors,
// NUL bytes, unpaired surrogates, huge strings, extreme numbers and dates, odd JSON). Whatever
// comes back, it must never be an INTERNAL_SERVER_ERROR or an HTTP 5xx: bad input gets a typed
// error, a BAD_USER_INPUT, or null. New operations are covered without writing new cases.
// Subscription fields: hostile-subscriptions-suite.ts (graphql-ws and SSE, from the same values).
import { randomUUID } from 'node:crypto';
import {
  buildClientSchema,
  type GraphQLArgument,
  GraphQLEnumType,
  type GraphQLField,
  GraphQLInputObjectType,
  type GraphQLInputType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLObjectType,
  type GraphQLOutputType,
  GraphQLScalarType,
  type GraphQLSchema,
  getIntrospectionQuery,
  getNamedType,
  type IntrospectionQuery,
  isInterfaceType,
  isLeafType,
  isObjectType,
  isUnionType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, type Platform, type PlatformFactory } from './harness.ts';
import { signUp } from './identity-suite.ts';

const cursorOf = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const deep = (levels: number): unknown => (levels === 0 ? 1 : { and: [deep(levels - 1)] });

const TEXT = [
  '',
  'not-a-uuid',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  'x'.repeat(100_000),
  '!!!',
  "'; drop table contacts; --",
  '99999999999999999999',
  '(((a+)+)+)+$',
  '[',
];
/** Values for positions that take an id or a cursor. */
export const IDS = [
  ...TEXT,
  randomUUID(),
  '00000000-0000-0000-0000-000000000000',
  cursorOf('-'.repeat(36)),
  cursorOf('not-a-uuid'),
  cursorOf('\u0000'),
];
const INTS = [-1, 0, -2147483648, 2147483647, 2147483648, 1.5];
const FLOATS = [-1, 0, 1e308, -1e308, 5e-324];
const DATES = [
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00Z',
  '2026-02-30T00:00:00Z',
  'yesterday',
  '',
];
const EMAILS = ['a@b', 'a\u0000@b.co', '\ud800@b.co', `${'a'.repeat(300)}@example.com`, ''];
const JSONS: unknown[] = [
  null,
  {},
  [],
  'x',
  1e308,
  { '\u0000': '\u0000' },
  { key: '\ud800' },
  deep(300),
  Array.from({ length: 10_000 }, (_, i) => i),
  { field: 'email', op: 'regexp', value: '(((((a+)+)+)+)+)+$' },
  { field: 'email', op: 'regexp', value: '[' },
  { field: 'points', op: 'gt', value: 1e20 },
  { field: 'createdAt', op: 'gt', value: '0000-01-01' },
  { field: 'createdAt', op: 'between', value: ['-999999 days', '+999999 years'] },
  { behavior: { type: 'email.opened', count: { op: 'gte', value: -1 }, within: '999999999 days' } },
  { segment: { id: 'not-a-uuid', member: true } },
  { tags: { op: 'includesAny', value: ['\u0000'] } },
];

function hostileValues(type: GraphQLInputType, argName: string): unknown[] {
  const named = getNamedType(type);
  if (named instanceof GraphQLEnumType) return ['NOT_A_VALUE'];
  if (!(named instanceof GraphQLScalarType)) return [];
  switch (named.name) {
    case 'ID':
      return IDS;
    case 'String':
      return /after|before|cursor|id$/i.test(argName) ? IDS : TEXT;
    case 'Int':
      return INTS;
    case 'Float':
      return FLOATS;
    case 'Boolean':
      return [];
    case 'DateTime':
      return DATES;
    case 'EmailAddress':
      return EMAILS;
    case 'JSON':
      return JSONS;
    default:
      return TEXT;
  }
}

/** Ids of real rows of the caller's organization, so that calls get past "not found" to deeper code. */
export type Fixtures = Record<string, string>;

/** The fixture an id position names: its own name (`contactId`), else the operation's (`deleteSegment` -> segment). */
function fixtureFor(fixtures: Fixtures, position: string, operation: string): string | undefined {
  const names = Object.keys(fixtures).sort((a, b) => b.length - a.length);
  const own = position.replace(/Id$/, '').toLowerCase();
  const byPosition = names.find((n) => n.toLowerCase() === own);
  if (byPosition) return fixtures[byPosition];
  const byOperation = position === 'id' && names.find((n) => operation.toLowerCase().includes(n.toLowerCase()));
  return byOperation ? fixtures[byOperation] : undefined;
}

/** A plausible value of a type, so that only the position under test is hostile. */
function plausible(type: GraphQLInputType, at: { name: string; operation: string; fixtures: Fixtures }): unknown {
  if (type instanceof GraphQLNonNull) return plausible(type.ofType, at);
  if (type instanceof GraphQLList) return [plausible(type.ofType, at)];
  if (type instanceof GraphQLEnumType) return type.getValues()[0]?.value;
  if (type instanceof GraphQLInputObjectType) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields()))
      if (field.type instanceof GraphQLNonNull && field.defaultValue === undefined)
        out[field.name] = plausible(field.type, { ...at, name: field.name });
    return out;
  }
  switch ((type as GraphQLScalarType).name) {
    case 'ID':
      return fixtureFor(at.fixtures, at.name, at.operation) ?? randomUUID();
    case 'Int':
    case 'Float':
      return 1;
    case 'Boolean':
      return true;
    case 'DateTime':
      return new Date().toISOString();
    case 'EmailAddress':
      return 'someone@example.com';
    case 'JSON':
      return {};
    default:
      return 'x';
  }
}

interface Slot {
  /** Where the hostile value goes: the argument, then input fields (and [0] for list items). */
  path: (string | number)[];
  type: GraphQLInputType;
  name: string;
}

/** Every leaf position under an argument, input objects followed three levels deep. */
function slots(type: GraphQLInputType, path: (string | number)[], name: string, depth = 0): Slot[] {
  const inner = type instanceof GraphQLNonNull ? type.ofType : type;
  if (inner instanceof GraphQLList) return slots(inner.ofType, [...path, 0], name, depth);
  if (inner instanceof GraphQLInputObjectType) {
    if (depth >= 3) return [];
    return Object.values(inner.getFields()).flatMap((f) => slots(f.type, [...path, f.name], f.name, depth + 1));
  }
  return [{ path, type: inner, name }];
}

function setAt(root: Record<string, unknown>, path: (string | number)[], value: unknown) {
  let node: any = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next = path[i + 1]!;
    node[key] ??= typeof next === 'number' ? [] : {};
    node = node[key];
  }
  node[path.at(-1)!] = value;
}

/** __typename, expected errors' codes, and leaf fields two levels down (no field needing arguments). */
export function selectionOf(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  const parts = ['__typename'];
  if (isUnionType(named) || isInterfaceType(named)) {
    parts.push('... on Error { code message }');
    const members = isUnionType(named) ? named.getTypes() : [];
    for (const member of members)
      if (member.name !== 'Error' && depth < 1)
        parts.push(`... on ${member.name} { ${selectionOf(member, depth + 1)} }`);
  } else if (isObjectType(named) && depth < 2) {
    for (const field of Object.values((named as GraphQLObjectType).getFields())) {
      if (field.args.some((a) => a.type instanceof GraphQLNonNull)) continue;
      const inner = getNamedType(field.type);
      if (isLeafType(inner)) parts.push(field.name);
      else if (depth < 1) parts.push(`${field.name} { ${selectionOf(field.type, depth + 1)} }`);
    }
  }
  return parts.join(' ');
}

export interface Call {
  label: string;
  query: string;
  variables: Record<string, unknown>;
}

function callsFor(
  kind: 'query' | 'mutation' | 'subscription',
  field: GraphQLField<unknown, unknown>,
  fixtures: Fixtures,
): Call[] {
  const args: readonly GraphQLArgument[] = field.args;
  const header = args.length ? `(${args.map((a) => `$${a.name}: ${a.type}`).join(', ')})` : '';
  const passed = args.length ? `(${args.map((a) => `${a.name}: $${a.name}`).join(', ')})` : '';
  const selection = selectionOf(field.type);
  const query = `${kind}${header} { ${field.name}${passed}${selection ? ` { ${selection} }` : ''} }`;
  const base = (): Record<string, unknown> => {
    const variables: Record<string, unknown> = {};
    for (const a of args)
      if (a.type instanceof GraphQLNonNull)
        variables[a.name] = plausible(a.type, { name: a.name, operation: field.name, fixtures });
    return variables;
  };
  // The same arguments written inline in the query: literals take another path through the
  // scalars than variables do (graphql-js builds their objects without a prototype).
  const inline = (variables: Record<string, unknown>): string | undefined => {
    const parts = args
      .filter((a) => a.name in variables)
      .map((a) => {
        const text = literalOf(variables[a.name], a.type);
        return text === undefined ? undefined : `${a.name}: ${text}`;
      });
    if (parts.some((p) => p === undefined)) return undefined;
    const passedInline = parts.length ? `(${parts.join(', ')})` : '';
    return `${kind} { ${field.name}${passedInline}${selection ? ` { ${selection} }` : ''} }`;
  };
  const calls: Call[] = [{ label: `${field.name}()`, query, variables: base() }];
  const inlined = inline(base());
  if (inlined) calls.push({ label: `${field.name}() inline`, query: inlined, variables: {} });
  for (const arg of args)
    for (const slot of slots(arg.type, [arg.name], arg.name))
      for (const value of hostileValues(slot.type, slot.name)) {
        const variables = base();
        setAt(variables, slot.path, value);
        const shown = JSON.stringify(value)?.slice(0, 40);
        calls.push({ label: `${field.name}(${slot.path.join('.')}=${shown})`, query, variables });
        const literal = getNamedType(slot.type).name === 'JSON' ? inline(variables) : undefined;
        if (literal)
          calls.push({ label: `${field.name}(${slot.path.join('.')}=${shown}) inline`, query: literal, variables: {} });
      }
  return calls;
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A value as a GraphQL literal of its type; undefined when it has none (a JSON key that is not a name, NaN). */
function literalOf(value: unknown, type: GraphQLInputType): string | undefined {
  if (value === null || value === undefined) return 'null';
  if (type instanceof GraphQLNonNull) return literalOf(value, type.ofType);
  if (type instanceof GraphQLList) {
    if (!Array.isArray(value)) return literalOf(value, type.ofType);
    const items = value.map((item) => literalOf(item, type.ofType));
    return items.some((i) => i === undefined) ? undefined : `[${items.join(', ')}]`;
  }
  if (type instanceof GraphQLEnumType) return typeof value === 'string' && NAME.test(value) ? value : undefined;
  if (type instanceof GraphQLInputObjectType) {
    if (typeof value !== 'object' || Array.isArray(value)) return undefined;
    const fields = type.getFields();
    const parts = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
      const field = fields[key];
      const text = field ? literalOf(item, field.type) : undefined;
      return text === undefined ? undefined : `${key}: ${text}`;
    });
    return parts.some((p) => p === undefined) ? undefined : `{ ${parts.join(', ')} }`;
  }
  return untypedLiteralOf(value);
}

function untypedLiteralOf(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (Array.isArray(value)) {
    const items = value.map(untypedLiteralOf);
    return items.some((i) => i === undefined) ? undefined : `[${items.join(', ')}]`;
  }
  if (typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
      const text = NAME.test(key) ? untypedLiteralOf(item) : undefined;
      return text === undefined ? undefined : `${key}: ${text}`;
    });
    return parts.some((p) => p === undefined) ? undefined : `{ ${parts.join(', ')} }`;
  }
  return undefined;
}

export function operationsOf(schema: GraphQLSchema, fixtures: Fixtures): Call[] {
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
  ] as const;
  return roots.flatMap(([kind, root]) =>
    Object.values(root?.getFields() ?? {}).flatMap((f) => callsFor(kind, f, fixtures)),
  );
}

/** The gateway's own Subscription fields, with the same hostile values (hostile-subscriptions-suite.ts). */
export const subscriptionCallsOf = (schema: GraphQLSchema, fixtures: Fixtures): Call[] =>
  Object.values(schema.getSubscriptionType()?.getFields() ?? {}).flatMap((f) => callsFor('subscription', f, fixtures));

/** One row of each kind the graph can create, in the caller's organization. */
export async function createFixtures(url: string, token: string): Promise<Fixtures> {
  const create = async (name: string, mutation: string, input: Record<string, unknown>, type: string) => {
    const typename = name.charAt(0).toUpperCase() + name.slice(1);
    const result = await gql(
      url,
      `mutation($input: ${type}!) { ${mutation}(input: $input) { __typename ... on ${typename} { id } } }`,
      { input },
      { token },
    );
    const id = (result.data?.[mutation] as { id?: string } | undefined)?.id;
    if (!id) throw new Error(`fixture ${name} was not created: ${JSON.stringify(result)}`);
    return [name, id] as const;
  };
  const me = await gql(url, '{ me { user { id } } }', {}, { token });
  const source = await gql(
    url,
    'mutation { createSource(input: { name: "Fixture" }) { ... on SourceWithWriteKey { source { id } } } }',
    {},
    { token },
  );
  const hook = await gql(
    url,
    `mutation { createWebhookEndpoint(input: { url: "https://hooks.example.com/fixture", eventTypes: ["crm.contact.created"] })
      { ... on WebhookEndpointWithSecret { endpoint { id } } } }`,
    {},
    { token },
  );
  return Object.fromEntries([
    ['user', me.data?.me.user.id],
    ['webhookEndpoint', hook.data?.createWebhookEndpoint.endpoint.id],
    ['endpoint', hook.data?.createWebhookEndpoint.endpoint.id],
    ['owner', me.data?.me.user.id],
    ['source', source.data?.createSource.source.id],
    await create('contact', 'createContact', { email: 'fixture@example.com', firstName: 'Fix' }, 'ContactInput'),
    await create('company', 'createCompany', { name: 'Fixture Inc' }, 'CompanyInput'),
    await create('stage', 'createStage', { name: 'Lead', position: 1 }, 'CreateStageInput'),
    await create(
      'segment',
      'createSegment',
      { name: 'Everyone', filter: { field: 'email', op: 'notEmpty' } },
      'CreateSegmentInput',
    ),
    await create(
      'pointRule',
      'createPointRule',
      { name: 'Opens', eventType: 'DELIVERY_MESSAGE_OPENED', delta: 1 },
      'CreatePointRuleInput',
    ),
    await create('pointGroup', 'createPointGroup', { name: 'Engagement' }, 'CreatePointGroupInput'),
    await create(
      'pointTrigger',
      'createPointTrigger',
      { name: 'Hot', threshold: 50, action: { type: 'ADD_TAGS', tags: ['hot'] } },
      'CreatePointTriggerInput',
    ),
    await create('category', 'createCategory', { name: 'Newsletters' }, 'CreateCategoryInput'),
    await create('journey', 'createJourney', { name: 'Welcome' }, 'CreateJourneyInput'),
    await create('campaign', 'createCampaign', { name: 'Spring sale', channel: 'EMAIL' }, 'CreateCampaignInput'),
    await create(
      'template',
      'createTemplate',
      {
        name: 'Hello',
        channel: 'EMAIL',
        source: { subject: 'Hi', fromAddress: 'shop@example.com', html: '<p>Hi {{contact.firstName}}</p>' },
      },
      'CreateTemplateInput',
    ),
    await create('sendingDomain', 'addSendingDomain', { domain: 'mail.fixture.example' }, 'AddSendingDomainInput'),
    await create('ipPool', 'createIpPool', { name: 'Fixture pool' }, 'CreateIpPoolInput'),
  ]);
}

export function hostileInputSuite(name: string, start: PlatformFactory) {
  describe(`every operation, with hostile arguments (${name})`, () => {
    let platform: Platform;
    let token: string;
    let schema: GraphQLSchema;
    let fixtures: Fixtures;
    beforeAll(async () => {
      platform = await start();
      token = (await signUp(platform.url, 'hostile')).session.accessToken;
      const introspection = await gql<IntrospectionQuery>(platform.url, getIntrospectionQuery(), {}, { token });
      schema = buildClientSchema(introspection.data!);
      fixtures = await createFixtures(platform.url, token);
    });
    afterAll(() => platform?.stop());

    it('never answers INTERNAL_SERVER_ERROR or a 5xx', async () => {
      const calls = operationsOf(schema, fixtures);
      expect(calls.length).toBeGreaterThan(500);
      const failures: string[] = [];
      for (const call of calls) {
        const result = await gql(platform.url, call.query, call.variables, { token });
        const internal = result.errors?.find((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR');
        if (result.status >= 500 || internal)
          failures.push(`${call.label}: ${result.status} ${internal?.message ?? result.errors?.[0]?.message ?? ''}`);
      }
      expect(failures, `${failures.length} of ${calls.length} calls failed`).toEqual([]);
    }, 900_000);
  });
}
