// The tenant-isolation matrix: every Query and Mutation field of the integrations subgraph, called
// by organization B with organization A's ids, through the subgraph schema. Each case asserts what
// B gets (nothing of A's), and after each one every integrations row of A must be exactly as it
// was (its write key's hash among them). A field added without a case fails the coverage test.
import { catalogue, createEvent, newId, unwrap } from '@mauntic/kernel';
import {
  type Data,
  fieldsOf,
  type IsolationCase,
  organizationSnapshot,
  PAYLOAD,
  runAs,
} from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordWebhookEvent } from '../src/app/webhook-events.ts';
import { schema } from '../src/graphql/index.ts';
import { DATABASES, newOrg, openIntegrations } from './harness.ts';

type Org = ReturnType<typeof newOrg>;
interface Fixtures {
  ctx: Org;
  source: string;
  endpoint: string;
  delivery: string;
}
type Case = IsolationCase<Fixtures>;

const A_MARKER = 'a-marker';
const notFound =
  (name: string): Case['expect'] =>
  ({ data }) =>
    expect(data[name]).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
const byId = (name: string) => `mutation($id: ID!) { ${name}(input: { id: $id }) ${PAYLOAD} }`;

const QUERIES: Record<string, Case> = {
  _service: {
    query: `{ _service { sdl } }`,
    expect: ({ data }) => {
      expect(data._service.sdl).toContain('type Source');
      expect(data._service.sdl).not.toContain(A_MARKER);
    },
  },
  source: {
    query: 'query($id: ID!) { source(id: $id) { id } }',
    variables: (a) => ({ id: a.source }),
    expect: ({ data }) => expect(data.source).toBeNull(),
  },
  sources: {
    query: '{ sources(first: 100) { totalCount edges { node { id name } } } }',
    expect: ({ data }, a) => {
      expect(data.sources.totalCount).toBe(1);
      expect(JSON.stringify(data.sources)).not.toContain(a.source);
    },
  },
  webhookEndpoint: {
    query: 'query($id: ID!) { webhookEndpoint(id: $id) { id } }',
    variables: (a) => ({ id: a.endpoint }),
    expect: ({ data }) => expect(data.webhookEndpoint).toBeNull(),
  },
  webhookEndpoints: {
    query: '{ webhookEndpoints(first: 100) { totalCount edges { node { id url description } } } }',
    expect: ({ data }, a) => {
      expect(data.webhookEndpoints.totalCount).toBe(1);
      expect(JSON.stringify(data.webhookEndpoints)).not.toContain(a.endpoint);
    },
  },
  webhookDeliveries: {
    query: `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 100) {
      totalCount edges { node { id endpointId payload log { attempt } } } } }`,
    variables: (a) => ({ id: a.endpoint }),
    expect: ({ data }) => expect(data.webhookDeliveries).toMatchObject({ totalCount: 0, edges: [] }),
  },
};

const MUTATIONS: Record<string, Case> = {
  createSource: {
    query: `mutation { createSource(input: { name: "b" }) { __typename } }`,
    expect: ({ data }) => expect(data.createSource).toEqual({ __typename: 'SourceWithWriteKey' }),
  },
  rollSourceWriteKey: {
    query: byId('rollSourceWriteKey'),
    variables: (a) => ({ id: a.source }),
    expect: notFound('rollSourceWriteKey'),
  },
  deleteSource: { query: byId('deleteSource'), variables: (a) => ({ id: a.source }), expect: notFound('deleteSource') },
  createWebhookEndpoint: {
    query: `mutation { createWebhookEndpoint(input: { url: "http://127.0.0.1:9/b", eventTypes: ["crm.contact.created"] })
      { __typename } }`,
    expect: ({ data }) => expect(data.createWebhookEndpoint).toEqual({ __typename: 'WebhookEndpointWithSecret' }),
  },
  updateWebhookEndpoint: {
    query: `mutation($id: ID!) { updateWebhookEndpoint(input: { id: $id, url: "http://127.0.0.1:9/b", description: "b" })
      ${PAYLOAD} }`,
    variables: (a) => ({ id: a.endpoint }),
    expect: notFound('updateWebhookEndpoint'),
  },
  deleteWebhookEndpoint: {
    query: byId('deleteWebhookEndpoint'),
    variables: (a) => ({ id: a.endpoint }),
    expect: notFound('deleteWebhookEndpoint'),
  },
  rotateWebhookSecret: {
    query: byId('rotateWebhookSecret'),
    variables: (a) => ({ id: a.endpoint }),
    expect: notFound('rotateWebhookSecret'),
  },
  enableWebhookEndpoint: {
    query: byId('enableWebhookEndpoint'),
    variables: (a) => ({ id: a.endpoint }),
    expect: notFound('enableWebhookEndpoint'),
  },
  disableWebhookEndpoint: {
    query: `mutation($id: ID!) { disableWebhookEndpoint(input: { id: $id, reason: "b" }) ${PAYLOAD} }`,
    variables: (a) => ({ id: a.endpoint }),
    expect: notFound('disableWebhookEndpoint'),
  },
  replayWebhookDelivery: {
    query: byId('replayWebhookDelivery'),
    variables: (a) => ({ id: a.delivery }),
    expect: notFound('replayWebhookDelivery'),
  },
  replayWebhookDeliveries: {
    query: `mutation($id: ID!) { replayWebhookDeliveries(input: { endpointId: $id, from: "2000-01-01T00:00:00Z",
      to: "2100-01-01T00:00:00Z" }) ${PAYLOAD} }`,
    variables: (a) => ({ id: a.endpoint }),
    expect: notFound('replayWebhookDeliveries'),
  },
};

describe.each(DATABASES)('tenant isolation of every integrations field (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  let a: Fixtures;
  let b: Fixtures;
  let before: string;

  async function fixtures(ctx: Org, marker: string): Promise<Fixtures> {
    const made = unwrap(await env.services.createSource(ctx, { name: `${marker} website` }));
    const endpoint = unwrap(
      await env.services.createWebhookEndpoint(ctx, {
        url: `http://127.0.0.1:9/${marker}`,
        description: marker,
        eventTypes: ['crm.segment.entered'],
      }),
    );
    const event = createEvent(catalogue.crm.segmentEntered, {
      organizationId: ctx.organizationId,
      subjectId: newId(),
      data: { segmentId: newId() },
      correlationId: newId(),
    });
    await recordWebhookEvent(env, event);
    const [delivery] = unwrap(
      await env.services.listWebhookDeliveries(ctx, { endpointId: endpoint.id }, { fetch: 2, limit: 1 }),
    ).edges;
    return { ctx, source: made.id, endpoint: endpoint.id, delivery: delivery!.node.id };
  }

  const snapshot = (organizationId: string) => organizationSnapshot(env.handle, 'integrations', organizationId);
  const run = (c: Case, as: Fixtures) => runAs(schema, env.services, c, as.ctx, a, b);

  beforeAll(async () => {
    env = await openIntegrations(open);
    a = await fixtures(newOrg(), A_MARKER);
    b = await fixtures(newOrg(), 'b-marker');
    before = await snapshot(a.ctx.organizationId);
    expect(before).toContain(A_MARKER);
  });
  afterAll(() => env?.close());

  it('has a case for every Query and Mutation field of the schema', () => {
    expect(fieldsOf(schema)).toEqual({
      queries: Object.keys(QUERIES).sort(),
      mutations: Object.keys(MUTATIONS).sort(),
    });
  });

  it.each(Object.entries(QUERIES))('B reads nothing of A through query %s', async (_field, c) => {
    const result = await run(c, b);
    expect(result.errors).toBeUndefined();
    c.expect({ data: (result.data ?? {}) as Data, errors: [] }, a);
    // A itself sees its own (the case is not passing because the field is broken).
    const own = await run(c, a);
    expect(own.errors).toBeUndefined();
    expect(JSON.stringify(own.data)).toMatch(new RegExp(`${a.source}|${a.endpoint}|${a.delivery}|"sdl"`));
  });

  it.each(Object.entries(MUTATIONS))("B cannot change A's data through mutation %s", async (_field, c) => {
    const result = await run(c, b);
    expect(result.errors).toBeUndefined();
    c.expect({ data: (result.data ?? {}) as Data, errors: [] }, a);
    expect(await snapshot(a.ctx.organizationId)).toBe(before);
  });
});
