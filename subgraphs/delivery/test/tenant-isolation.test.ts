// The tenant-isolation matrix: every Query and Mutation field of the delivery subgraph, called by
// organization B with organization A's ids and addresses, through the subgraph schema. Each case
// asserts what B gets (nothing of A's), and after each one every delivery row of A must be
// exactly as it was. A field added to the schema without a case here fails the coverage test.
import { newId, unwrap } from '@mauntic/kernel';
import {
  type Data,
  fieldsOf,
  type IsolationCase,
  organizationSnapshot,
  PAYLOAD,
  runAs,
} from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/index.ts';
import { DATABASES, newOrg, openDelivery, seedContact } from './harness.ts';

type Org = ReturnType<typeof newOrg>;
interface Fixtures {
  ctx: Org;
  email: string;
  contact: string;
  emailTemplate: string;
  smsTemplate: string;
  pushTemplate: string;
  provider: string;
  message: string;
  /** Suppressed addresses: one B adds for itself, one B tries to remove. */
  kept: string;
  removable: string;
  /** A sending domain: its id and name. */
  domain: string;
  domainName: string;
  /** An IP pool with one IP, and its name. */
  pool: string;
  poolName: string;
}

type Case = IsolationCase<Fixtures>;

const typename =
  (name: string, expected: string): Case['expect'] =>
  ({ data }) =>
    expect(data[name]?.__typename).toBe(expected);
const notFound = (name: string) => typename(name, 'NotFoundError');
const payload = PAYLOAD;
const A_MARKER = 'a-marker';

const MUTATIONS: Record<string, Case> = {
  createIpPool: {
    // Pools are per organization: B naming a pool as A did gets its own.
    query: `mutation($n: String!) { createIpPool(input: { name: $n, isDefault: true }) { __typename ... on IpPool { id name } } }`,
    variables: (a) => ({ n: a.poolName }),
    expect: ({ data }, a) => {
      expect(data.createIpPool).toMatchObject({ __typename: 'IpPool', name: a.poolName });
      expect(data.createIpPool.id).not.toBe(a.pool);
    },
  },
  updateIpPool: {
    query: `mutation($id: ID!) { updateIpPool(input: { id: $id, name: "taken", isDefault: false }) ${payload} }`,
    variables: (a) => ({ id: a.pool }),
    expect: notFound('updateIpPool'),
  },
  deleteIpPool: {
    query: `mutation($id: ID!) { deleteIpPool(id: $id) ${payload} }`,
    variables: (a) => ({ id: a.pool }),
    expect: notFound('deleteIpPool'),
  },
  addPoolIp: {
    query: `mutation($id: ID!) { addPoolIp(input: { ipPoolId: $id, ip: "127.0.0.3", weight: 5 }) ${payload} }`,
    variables: (a) => ({ id: a.pool }),
    expect: notFound('addPoolIp'),
  },
  removePoolIp: {
    query: `mutation($id: ID!) { removePoolIp(input: { ipPoolId: $id, ip: "127.0.0.2" }) ${payload} }`,
    variables: (a) => ({ id: a.pool }),
    expect: notFound('removePoolIp'),
  },
  assignIpPool: {
    // Neither A's domain to B's pool, nor B's domain to A's pool.
    query: `mutation($d: ID!, $p: ID, $bd: ID!, $bp: ID) {
      mine: assignIpPool(input: { sendingDomainId: $d, ipPoolId: $p }) ${payload}
      theirs: assignIpPool(input: { sendingDomainId: $bd, ipPoolId: $bp }) ${payload} }`,
    variables: (a, b) => ({ d: a.domain, p: b.pool, bd: b.domain, bp: a.pool }),
    expect: ({ data }) => {
      expect(data.mine.__typename).toBe('NotFoundError');
      expect(data.theirs.__typename).toBe('NotFoundError');
    },
  },
  addSendingDomain: {
    // Domains are per organization: B adding A's domain name gets its own row and keys.
    query: `mutation($d: String!) { addSendingDomain(input: { domain: $d }) { __typename ... on SendingDomain { id domain } } }`,
    variables: (a) => ({ d: a.domainName }),
    expect: ({ data }, a) => {
      expect(data.addSendingDomain).toMatchObject({ __typename: 'SendingDomain', domain: a.domainName });
      expect(data.addSendingDomain.id).not.toBe(a.domain);
    },
  },
  verifySendingDomain: {
    query: `mutation($id: ID!) { verifySendingDomain(id: $id) ${payload} }`,
    variables: (a) => ({ id: a.domain }),
    expect: notFound('verifySendingDomain'),
  },
  rotateDkimKeys: {
    query: `mutation($id: ID!) { rotateDkimKeys(id: $id) ${payload} }`,
    variables: (a) => ({ id: a.domain }),
    expect: notFound('rotateDkimKeys'),
  },
  deleteSendingDomain: {
    query: `mutation($id: ID!) { deleteSendingDomain(id: $id) ${payload} }`,
    variables: (a) => ({ id: a.domain }),
    expect: notFound('deleteSendingDomain'),
  },
  addSuppression: {
    // Suppressions are per organization: B suppressing A's address makes B's own row.
    query: `mutation($e: String!) { addSuppression(input: { channel: EMAIL, address: $e, reason: MANUAL }) { __typename ... on Suppression { id reason } } }`,
    variables: (a) => ({ e: a.kept }),
    expect: ({ data }) => expect(data.addSuppression).toMatchObject({ __typename: 'Suppression', reason: 'MANUAL' }),
  },
  removeSuppression: {
    query: `mutation($e: String!) { removeSuppression(channel: EMAIL, address: $e) ${payload} }`,
    variables: (a) => ({ e: a.removable }),
    expect: notFound('removeSuppression'),
  },
  createProvider: {
    // A's provider as B's failover.
    query: `mutation($f: ID) { createProvider(input: { name: "x", kind: SMTP, config: { host: "127.0.0.1" }, failoverProviderId: $f }) ${payload} }`,
    variables: (a) => ({ f: a.provider }),
    expect: notFound('createProvider'),
  },
  updateProvider: {
    query: `mutation($id: ID!) { updateProvider(input: { id: $id, name: "Hacked", config: { host: "evil.example" } }) ${payload} }`,
    variables: (a) => ({ id: a.provider }),
    expect: notFound('updateProvider'),
  },
  deleteProvider: {
    query: `mutation($id: ID!) { deleteProvider(id: $id) ${payload} }`,
    variables: (a) => ({ id: a.provider }),
    expect: notFound('deleteProvider'),
  },
  createTemplate: {
    // Template names are per organization: A's name is free for B.
    query: `mutation { createTemplate(input: { name: "welcome", channel: SMS, source: { body: "Hi" } }) { __typename ... on Template { id } } }`,
    expect: ({ data }, a) => {
      expect(data.createTemplate.__typename).toBe('Template');
      expect(data.createTemplate.id).not.toBe(a.smsTemplate);
    },
  },
  updateTemplate: {
    query: `mutation($id: ID!) { updateTemplate(input: { id: $id, name: "Hacked", source: { body: "Hacked" } }) ${payload} }`,
    variables: (a) => ({ id: a.smsTemplate }),
    expect: notFound('updateTemplate'),
  },
  deleteTemplate: {
    query: `mutation($id: ID!) { deleteTemplate(id: $id) ${payload} }`,
    variables: (a) => ({ id: a.emailTemplate }),
    expect: notFound('deleteTemplate'),
  },
  sendEmail: {
    query: `mutation($t: ID!, $e: String) { sendEmail(input: { templateId: $t, to: $e, idempotencyKey: "k" }) ${payload} }`,
    variables: (a) => ({ t: a.emailTemplate, e: a.email }),
    expect: notFound('sendEmail'),
  },
  sendSms: {
    // B's own template, A's contact.
    query: `mutation($t: ID!, $c: ID) { sendSms(input: { templateId: $t, contactId: $c, idempotencyKey: "k" }) ${payload} }`,
    variables: (a, b) => ({ t: b.smsTemplate, c: a.contact }),
    expect: notFound('sendSms'),
  },
  sendPush: {
    query: `mutation($t: ID!) { sendPush(input: { templateId: $t, to: "device-token-0123456789", idempotencyKey: "k" }) ${payload} }`,
    variables: (a) => ({ t: a.pushTemplate }),
    expect: notFound('sendPush'),
  },
  registerPushToken: {
    query: `mutation($c: ID!) { registerPushToken(contactId: $c, token: "attacker-device-token-0123") ${payload} }`,
    variables: (a) => ({ c: a.contact }),
    expect: notFound('registerPushToken'),
  },
  updateDeliverySettings: {
    query: `mutation { updateDeliverySettings(input: { emailCap: null, defaultFromAddress: "b@example.com" }) { __typename ... on DeliverySettings { defaultFromAddress frequencyCaps { channel } } } }`,
    expect: ({ data }) =>
      expect(data.updateDeliverySettings).toEqual({
        __typename: 'DeliverySettings',
        defaultFromAddress: 'b@example.com',
        frequencyCaps: [],
      }),
  },
};

const nodeIds = (connection: Data) => connection.edges.map((e: Data) => e.node.id);

const QUERIES: Record<string, Case> = {
  _entities: {
    query: `query($r: [_Any!]!) { _entities(representations: $r) { __typename } }`,
    variables: (a) => ({ r: [{ __typename: 'Contact', id: a.contact }] }),
    expect: ({ data }, a) => expect(JSON.stringify(data)).not.toContain(a.email),
  },
  _service: {
    query: `{ _service { sdl } }`,
    expect: ({ data }, a) => {
      expect(data._service.sdl).toContain('type Message');
      expect(data._service.sdl).not.toContain(a.email);
    },
  },
  deliverySettings: {
    query: `{ deliverySettings { defaultFromAddress frequencyCaps { channel max } } }`,
    expect: ({ data }) => expect(JSON.stringify(data)).not.toContain(A_MARKER),
  },
  deliveryStats: {
    query: `{ deliveryStats(by: TEMPLATE) { key sent queued } }`,
    expect: ({ data }, a) => expect(data.deliveryStats.map((s: Data) => s.key)).not.toContain(a.emailTemplate),
  },
  message: {
    query: `query($id: ID!) { message(id: $id) { id } }`,
    variables: (a) => ({ id: a.message }),
    expect: ({ data }) => expect(data.message).toBeNull(),
  },
  messages: {
    query: `query($e: String) { messages(first: 100) { totalCount edges { node { id } } } mine: messages(first: 10, filter: { address: $e }) { totalCount } }`,
    variables: (a) => ({ e: a.email }),
    expect: ({ data }, a) => {
      expect(nodeIds(data.messages)).not.toContain(a.message);
      expect(data.messages.totalCount).toBe(data.messages.edges.length);
      expect(data.mine.totalCount).toBe(0);
    },
  },
  previewTemplate: {
    // B's own template rendered for A's contact (A's template itself: see the test below).
    query: `query($t: ID!, $c: ID) { previewTemplate(templateId: $t, contactId: $c) { subject html } }`,
    variables: (a, b) => ({ t: b.emailTemplate, c: a.contact }),
    expect: ({ data, errors }, a) => {
      expect(data?.previewTemplate ?? null).toBeNull();
      expect(errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
      expect(JSON.stringify(errors)).not.toContain(a.email);
    },
  },
  providers: {
    query: `{ providers(first: 100) { totalCount edges { node { id } } } }`,
    expect: ({ data }, a) => expect(nodeIds(data.providers)).not.toContain(a.provider),
  },
  sendingDomain: {
    query: `query($id: ID!) { sendingDomain(id: $id) { id records { name value } } }`,
    variables: (a) => ({ id: a.domain }),
    expect: ({ data }) => expect(data.sendingDomain).toBeNull(),
  },
  ipPool: {
    query: `query($id: ID!) { ipPool(id: $id) { id ips { ip } } }`,
    variables: (a) => ({ id: a.pool }),
    expect: ({ data }) => expect(data.ipPool).toBeNull(),
  },
  ipPools: {
    query: `{ ipPools { id name ips { ip weight reputation state } } }`,
    expect: ({ data }, a) => expect(data.ipPools.map((p: Data) => p.id)).not.toContain(a.pool),
  },
  sendingDomains: {
    query: `{ sendingDomains { id domain dkimKeys { selector } } }`,
    expect: ({ data }, a) => expect(data.sendingDomains.map((d: Data) => d.id)).not.toContain(a.domain),
  },
  suppressions: {
    query: `{ suppressions(first: 100) { edges { node { id address } } } }`,
    expect: ({ data }, a) =>
      expect(data.suppressions.edges.map((e: Data) => e.node.address)).not.toContain(a.removable),
  },
  template: {
    query: `query($id: ID!) { template(id: $id) { id } }`,
    variables: (a) => ({ id: a.emailTemplate }),
    expect: ({ data }) => expect(data.template).toBeNull(),
  },
  templates: {
    query: `{ templates(first: 100) { totalCount edges { node { id } } } }`,
    expect: ({ data }, a) => expect(nodeIds(data.templates)).not.toContain(a.emailTemplate),
  },
};

describe.each(DATABASES)('tenant isolation of every delivery field (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let a: Fixtures;
  let b: Fixtures;
  let before: string;

  async function fixtures(ctx: Org, marker: string): Promise<Fixtures> {
    const s = env.services;
    const email = `${marker}-${newId()}@example.com`;
    const contact = await seedContact(s, ctx.organizationId, { email, phone: '+15550001234', firstName: marker });
    unwrap(await s.registerPushToken(ctx, { contactId: contact, token: `device-${newId()}` }));
    const emailTemplate = unwrap(
      await s.createTemplate(ctx, {
        name: 'news',
        channel: 'email',
        source: { html: `<p>${marker}</p>`, subject: `${marker} news` },
      }),
    );
    const smsTemplate = unwrap(
      // Only A has a template named welcome: B then creates one of its own.
      await s.createTemplate(ctx, {
        name: marker === A_MARKER ? 'welcome' : 'hello',
        channel: 'sms',
        source: { body: `${marker} hi` },
      }),
    );
    const pushTemplate = unwrap(
      await s.createTemplate(ctx, { name: 'push', channel: 'push', source: { title: marker, body: 'hi' } }),
    );
    const backup = unwrap(
      await s.createProviderConfig(ctx, { name: 'backup', kind: 'smtp', config: { host: '127.0.0.2' } }),
    );
    const provider = unwrap(
      await s.createProviderConfig(ctx, {
        name: 'relay',
        kind: 'smtp',
        config: { host: '127.0.0.1', user: marker, pass: 'secret' },
        isDefault: true,
        failoverProviderId: backup.id,
      }),
    );
    const kept = `kept-${email}`;
    const removable = `removable-${email}`;
    unwrap(await s.addSuppression(ctx, { channel: 'email', address: kept, reason: 'complaint' }));
    unwrap(await s.addSuppression(ctx, { channel: 'email', address: removable }));
    unwrap(
      await s.updateSettings(ctx, {
        frequencyCaps: { email: { max: 3, periodSeconds: 86_400 } },
        defaultFromAddress: `${marker}@example.com`,
      }),
    );
    const message = unwrap(
      await s.sendMessage(ctx, 'email', { templateId: emailTemplate.id, contactId: contact, idempotencyKey: 'k' }),
    );
    const domainName = `${marker}-${newId().slice(0, 8)}.example`;
    const domain = unwrap(await s.addSendingDomain(ctx, { domain: domainName }));
    const poolName = `${marker}-pool`;
    const pool = unwrap(await s.createIpPool(ctx, { name: poolName, isDefault: true }));
    unwrap(await s.addPoolIp(ctx, { poolId: pool.id, ip: '127.0.0.2' }));
    unwrap(await s.assignIpPool(ctx, { sendingDomainId: domain.id, poolId: pool.id }));
    return {
      ctx,
      email,
      contact,
      emailTemplate: emailTemplate.id,
      smsTemplate: smsTemplate.id,
      pushTemplate: pushTemplate.id,
      provider: provider.id,
      message: message.id,
      kept,
      removable,
      domain: domain.id,
      domainName,
      pool: pool.id,
      poolName,
    };
  }

  const snapshot = (organizationId: string) => organizationSnapshot(env.handle, 'delivery', organizationId);

  const run = (c: Case, as: Fixtures) => runAs(schema, env.services, c, as.ctx, a, b);

  beforeAll(async () => {
    env = await openDelivery(open);
    a = await fixtures(newOrg(), A_MARKER);
    b = await fixtures(newOrg(), 'b-marker');
    before = await snapshot(a.ctx.organizationId);
    expect(before).toContain(a.email);
    expect(before).toContain(a.provider);
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
    if (c !== QUERIES.previewTemplate) expect(result.errors).toBeUndefined();
    c.expect({ data: (result.data ?? {}) as Data, errors: result.errors ?? [] }, a);
    // A itself still sees its own (the case is not passing because the field is broken). The
    // preview case mixes both organizations' ids; the test below shows A previewing its own.
    if (c === QUERIES.previewTemplate) return;
    const own = await run(c, a);
    expect(own.errors).toBeUndefined();
    expect(JSON.stringify(own.data)).toMatch(
      new RegExp(
        `${a.contact}|${a.emailTemplate}|${a.message}|${a.provider}|${a.removable}|${a.domain}|${a.pool}|${A_MARKER}|"sdl"|"__typename":"Contact"`,
      ),
    );
  });

  it("B cannot preview A's template, which A previews for its contact", async () => {
    const preview: Case = {
      query: `query($t: ID!, $c: ID) { previewTemplate(templateId: $t, contactId: $c) { subject } }`,
      variables: () => ({ t: a.emailTemplate, c: a.contact }),
      expect: () => {},
    };
    const foreign = await run(preview, b);
    expect(foreign.data).toBeNull();
    expect(foreign.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    const own = await run(preview, a);
    expect(own.data).toEqual({ previewTemplate: { subject: `${A_MARKER} news` } });
  });

  it.each(Object.entries(MUTATIONS))("B cannot change A's data through mutation %s", async (_field, c) => {
    const result = await run(c, b);
    expect(result.errors).toBeUndefined();
    c.expect({ data: (result.data ?? {}) as Data, errors: [] }, a);
    expect(await snapshot(a.ctx.organizationId)).toBe(before);
  });
});
