// Where an organization's provider may connect: a host or URL it set that leads to a loopback,
// private, link-local or metadata address is refused where the adapter connects (after the name
// is resolved, so a name rebound after validation is refused too), permanently and before anything
// reaches the server, unless the operator's allow-list names it. Real SMTP and HTTP servers on
// loopback stand in for such internal services; the tests' resolver says which names lead there.
import { generateKeyPairSync } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import {
  catalogue,
  createEvent,
  type EventEnvelope,
  newId,
  parseEvent,
  type RequestContext,
  unwrap,
} from '@mauntic/kernel';
import { createLogger, type OutboundGuard, outboundGuard, type Resolver } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import { graphql } from 'graphql';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applySendRequest } from '../src/app/send-requests.ts';
import { messages, outbox } from '../src/db/schema.ts';
import { CONNECTION_FAILED, tenantVisibleError } from '../src/domain/provider-failure.ts';
import { schema } from '../src/graphql/index.ts';
import {
  createProvider,
  type OutboundMessage,
  ProviderError,
  type ProviderKind,
  type ProviderSettings,
} from '../src/providers/index.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import {
  fcmSent,
  type HttpFake,
  mailgunQueued,
  oauthToken,
  plivoQueued,
  sendgridAccepted,
  sesSent,
  startHttpFake,
  twilioMessage,
} from './fakes/http-fake.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, seedContact } from './harness.ts';

/** The names the tests know, like lines in /etc/hosts for one guard; a function answers anew each time. */
function hostsFile(entries: Record<string, string[] | (() => string[])>): Resolver {
  return async (host) => {
    const entry = entries[host];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return (typeof entry === 'function' ? entry() : entry).map(
      (address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }),
    );
  };
}

// (Twilio's SDK rewrites a two-label host name as a region: the API's name has three.)
const resolve = hostsFile({ 'relay.test': ['127.0.0.1'], 'api.internal.test': ['127.0.0.1'] });
const refusing = outboundGuard({ resolve });
const allowing = outboundGuard({ allow: ['relay.test', 'api.internal.test', '127.0.0.1'], resolve });

const email = (to: string): OutboundMessage => ({
  channel: 'email',
  messageId: '01a217f5-c397-7788-bb57-4906166c7a0f',
  from: { address: 'shop@shop.example.com' },
  to,
  subject: 'Receipt',
  html: '<p>Thanks</p>',
  text: 'Thanks',
  headers: {},
});

/** The failure, checked to be a permanent refusal that an organization reads as a generic reason. */
async function refusal(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  expect(error).toMatchObject({ retryable: false, code: 'address_refused' });
  const { message } = error as ProviderError;
  // Operators read where it led; the organization does not (Message.error, delivery.message.failed).
  expect(message).toContain('127.0.0.1');
  expect(tenantVisibleError(`provider_error: ${message}`)).toBe(`provider_error: ${CONNECTION_FAILED}`);
  return error as ProviderError;
}

describe('an SMTP provider', () => {
  let relay: SmtpFake;
  beforeAll(async () => {
    relay = await startSmtpFake();
  });
  beforeEach(() => relay.reset());
  afterAll(() => relay.close());

  async function sendThrough(host: string, guard = refusing, to = 'ada@example.com') {
    const provider = createProvider('smtp', { host, port: relay.port }, {}, { outbound: guard });
    try {
      return await provider.send(email(to));
    } finally {
      await provider.close();
    }
  }

  it('whose host resolves to a loopback address is refused before connecting: the relay hears nothing', async () => {
    const before = relay.connections();
    const refused = await refusal(sendThrough('relay.test'));
    expect(refused.message).toContain('relay.test (127.0.0.1) is a loopback address');
    // localhost as the system resolver answers it, and an address given as such.
    await refusal(sendThrough('localhost', outboundGuard()));
    await refusal(sendThrough('127.0.0.1'));
    expect(relay.connections()).toBe(before);
    expect(relay.messages).toHaveLength(0);
  });

  it('whose name was public when validated and leads to 127.0.0.1 when connecting is refused', async () => {
    let lookups = 0;
    const rebinding = outboundGuard({
      resolve: hostsFile({ 'relay.test': () => (lookups++ === 0 ? ['93.184.216.34'] : ['127.0.0.1']) }),
    });
    // What validating the provider's settings does...
    expect(await rebinding.assertPublicHost('relay.test')).toEqual([{ address: '93.184.216.34', family: 4 }]);
    // ... and what the connection finds afterwards.
    const before = relay.connections();
    await refusal(sendThrough('relay.test', rebinding));
    expect(relay.connections()).toBe(before);
  });

  it('that the allow-list names is reached at the address its name resolves to', async () => {
    await sendThrough('relay.test', allowing, 'allowed@example.com');
    await sendThrough('127.0.0.1', outboundGuard({ allow: ['127.0.0.0/8'] }), 'range@example.com');
    expect(relay.messages.map((m) => m.rcptTo)).toEqual([['allowed@example.com'], ['range@example.com']]);
  });

  it('over TLS still names its host to the server (SNI), though it connects to the checked address', async () => {
    const servernames: string[] = [];
    const received: string[] = [];
    const server = new SMTPServer({
      secure: true,
      authOptional: true,
      logger: false,
      SNICallback: (servername, callback) => {
        servernames.push(servername);
        callback(null, undefined);
      },
      onData(stream, session, callback) {
        stream.resume();
        stream.on('end', () => {
          received.push(...session.envelope.rcptTo.map((r) => r.address));
          callback();
        });
      },
    });
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    const port = (server.server.address() as AddressInfo).port;
    const provider = createProvider(
      'smtp',
      { host: 'relay.test', port, secure: true, allowSelfSigned: true },
      {},
      { outbound: allowing },
    );
    try {
      await provider.send(email('tls@example.com'));
    } finally {
      await provider.close();
      await new Promise<void>((closed) => server.close(closed));
    }
    expect(servernames).toEqual(['relay.test']);
    expect(received).toEqual(['tls@example.com']);
  });
});

describe('HTTP providers whose origin or URL the organization set', () => {
  let api: HttpFake;
  /** The API by a name that resolves to 127.0.0.1. */
  let origin: string;
  /** The API by its address: Plivo's SDK resolves names itself, with the system's resolver. */
  let literal: string;
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

  beforeAll(async () => {
    api = await startHttpFake();
    origin = `http://api.internal.test:${new URL(api.url).port}`;
    literal = api.url;
    api.route('POST', /^\/v2\/email\/outbound-emails$/, sesSent);
    api.route('POST', /^\/v3\/mail\/send$/, sendgridAccepted);
    api.route('POST', /^\/v3\/[^/]+\/messages(\.mime)?$/, mailgunQueued);
    api.route('POST', /^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/, twilioMessage);
    api.route('POST', /^\/v1\/Account\/[^/]+\/Message\/$/, plivoQueued);
    api.route('POST', /^\/token$/, oauthToken);
    api.route('POST', /^\/v1\/projects\/[^/]+\/messages:send$/, fcmSent);
    api.route('POST', /^\/hooks\//, () => ({ status: 204 }));
  });
  beforeEach(() => api.reset());
  afterAll(() => api.close());

  const sms: OutboundMessage = { channel: 'sms', messageId: 'sms-1', to: '+15005550006', body: 'Code 1234' };
  const cases: {
    kind: ProviderKind;
    settings: () => Partial<ProviderSettings<ProviderKind>> & Record<string, unknown>;
    secrets: () => Record<string, string>;
    message: OutboundMessage;
  }[] = [
    {
      kind: 'ses',
      settings: () => ({ region: 'eu-west-1', accessKeyId: 'AKIDEXAMPLE', endpoint: origin }),
      secrets: () => ({ secretAccessKey: 'secret' }),
      message: email('ses@example.com'),
    },
    {
      kind: 'sendgrid',
      settings: () => ({ baseUrl: origin }),
      secrets: () => ({ apiKey: 'SG.test-key' }),
      message: email('sendgrid@example.com'),
    },
    {
      kind: 'mailgun',
      settings: () => ({ domain: 'mg.acme.example', url: origin }),
      secrets: () => ({ apiKey: 'key-123' }),
      message: email('mailgun@example.com'),
    },
    {
      kind: 'twilio',
      settings: () => ({ accountSid: 'AC0123456789abcdef0123456789abcdef', from: '+15005550001', baseUrl: origin }),
      secrets: () => ({ authToken: 'twilio-token' }),
      message: sms,
    },
    {
      kind: 'plivo',
      settings: () => ({ authId: 'MAZDQ1ZDLKYZJINTY3ND', from: '14155550100', baseUrl: literal }),
      secrets: () => ({ authToken: 'plivo-token' }),
      message: sms,
    },
    {
      kind: 'fcm',
      settings: () => ({
        projectId: 'acme-app',
        clientEmail: 'fcm@acme-app.iam.gserviceaccount.com',
        endpoint: origin,
      }),
      secrets: () => ({ privateKey: pem }),
      message: { channel: 'push', messageId: 'push-1', token: 'device-1', title: 'Sale', body: 'Today', data: {} },
    },
    {
      kind: 'webhook',
      settings: () => ({ url: origin }),
      secrets: () => ({}),
      message: { channel: 'webhook', messageId: 'wh-1', method: 'POST', url: '/hooks/x', headers: {}, body: '{}' },
    },
  ];

  async function sendWith(
    kind: ProviderKind,
    settings: object,
    secrets: object,
    guard: typeof refusing,
    message: OutboundMessage,
  ) {
    const provider = createProvider(kind, settings as Record<string, unknown>, secrets as Record<string, unknown>, {
      outbound: guard,
    });
    try {
      return await provider.send(message);
    } finally {
      await provider.close();
    }
  }

  for (const { kind, settings, secrets, message } of cases) {
    it(`${kind}: an origin that resolves to a loopback address is refused, and reached once allowed`, async () => {
      await refusal(sendWith(kind, settings(), secrets(), refusing, message));
      expect(api.requests).toHaveLength(0);
      await sendWith(kind, settings(), secrets(), allowing, message);
      expect(api.requests.length).toBeGreaterThan(0);
    });
  }

  it("webhook: a message URL of the template's that names a private address is refused too", async () => {
    const hook = (url: string): OutboundMessage => ({
      channel: 'webhook',
      messageId: 'wh-2',
      method: 'POST',
      url,
      headers: {},
      body: '{}',
    });
    const port = new URL(api.url).port;
    await refusal(sendWith('webhook', {}, {}, refusing, hook(`http://127.0.0.1:${port}/hooks/literal`)));
    await refusal(sendWith('webhook', {}, {}, refusing, hook(`http://api.internal.test:${port}/hooks/named`)));
    await refusal(sendWith('webhook', { url: 'https://hooks.example.com' }, {}, refusing, hook(`${origin}/hooks/x`)));
    expect(api.requests).toHaveLength(0);
  });
});

describe.each(OWN_DATABASES)('the engine sending through such a provider (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let relay: SmtpFake;
  let hooks: HttpFake;
  // Names that resolve to nothing when the provider is validated and to 127.0.0.1 when the engine
  // connects: a rebinding attacker's names, or internal ones.
  const rebound = hostsFile({ 'relay.test': ['127.0.0.1'], 'hooks.internal.test': ['127.0.0.1'] });
  beforeAll(async () => {
    env = await openDelivery(open);
    relay = await startSmtpFake();
    hooks = await startHttpFake();
    hooks.route('POST', /^\/hooks\//, () => ({ status: 204 }));
  });
  afterAll(async () => {
    await hooks?.close();
    await relay?.close();
    await env?.close();
  });

  /** Drains the queue with an engine whose providers may reach what `outbound` lets through. */
  async function runEngine(outbound: OutboundGuard) {
    const engine = startEngineFor(env, { outbound });
    try {
      await drain(engine);
    } finally {
      await engine.stop();
    }
  }

  async function outcome(ctx: RequestContext & { organizationId: string }, id: string) {
    const [row] = await env.handle.db.select().from(messages).where(eq(messages.id, id));
    const result = await graphql({
      schema,
      source: 'query($id: ID!) { message(id: $id) { status error } }',
      variableValues: { id },
      contextValue: { request: ctx, services: env.services, log: createLogger('test', 'silent') },
    });
    expect(result.errors).toBeUndefined();
    const failed = (
      await env.handle.db
        .select()
        .from(outbox)
        .where(and(eq(outbox.organizationId, ctx.organizationId), eq(outbox.type, 'delivery.message.failed')))
    ).map((r) => parseEvent(r.envelope) as EventEnvelope<string, { reason: string; detail: string | null }>);
    return { row: row!, shown: (result.data as { message: { status: string; error: string | null } }).message, failed };
  }

  async function emailThrough(host: string) {
    const ctx = newOrg();
    unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'relay',
        kind: 'smtp',
        config: { host, port: relay.port },
        isDefault: true,
      }),
    );
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'receipt',
        channel: 'email',
        category: 'transactional',
        source: { html: '<p>Thanks</p>', subject: 'Receipt', fromAddress: 'shop@example.com' },
      }),
    );
    const message = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: 'ada@example.com',
        idempotencyKey: newId(),
      }),
    );
    return { ctx, id: message.id };
  }

  it('an SMTP host leading to 127.0.0.1 fails the message for good, unheard by the relay; the organization reads no address', async () => {
    const before = relay.connections();
    const { ctx, id } = await emailThrough('relay.test');
    await runEngine(outboundGuard({ resolve: rebound }));
    const { row, shown, failed } = await outcome(ctx, id);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.error).toContain('relay.test (127.0.0.1) is a loopback address');
    expect(shown).toEqual({ status: 'FAILED', error: `provider_error: ${CONNECTION_FAILED}` });
    expect(failed.map((e) => e.data)).toMatchObject([{ reason: 'provider_error', detail: CONNECTION_FAILED }]);
    expect(relay.connections()).toBe(before);
    expect(relay.messages).toHaveLength(0);
  });

  it('the same host is reached once OUTBOUND_ALLOWED_HOSTS names it', async () => {
    relay.reset();
    const { ctx, id } = await emailThrough('relay.test');
    await runEngine(outboundGuard({ allow: ['relay.test'], resolve: rebound }));
    expect((await outcome(ctx, id)).row.status).toBe('sent');
    expect(relay.messages.map((m) => m.rcptTo)).toEqual([['ada@example.com']]);
  });

  it("a webhook template's URL leading to 127.0.0.1 fails for good, unheard by the receiver, until allowed", async () => {
    const ctx = newOrg();
    unwrap(
      await env.services.createProviderConfig(ctx, { name: 'hooks', kind: 'webhook', config: {}, isDefault: true }),
    );
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'notify',
        channel: 'webhook',
        source: {
          method: 'POST',
          urlTemplate: `http://hooks.internal.test:${new URL(hooks.url).port}/hooks/{{contact.id}}`,
        },
      }),
    );
    const contactId = await seedContact(env.services, ctx.organizationId, { email: 'ada@example.com' });
    const requestOnce = async (key: string) => {
      await applySendRequest(
        env.services.deps,
        createEvent(catalogue.delivery.messageRequested, {
          organizationId: ctx.organizationId,
          subjectId: contactId,
          correlationId: newId(),
          data: {
            channel: 'webhook',
            templateId: template.id,
            contactId,
            address: null,
            context: {},
            idempotencyKey: key,
            source: { kind: 'journey', id: newId(), stepId: 'notify' },
          },
        }),
      );
      const [row] = await env.handle.db
        .select({ id: messages.id })
        .from(messages)
        .where(and(eq(messages.organizationId, ctx.organizationId), eq(messages.idempotencyKey, key)));
      return row!.id;
    };

    const refused = await requestOnce('journey:hook:1');
    await runEngine(outboundGuard({ resolve: rebound }));
    const { row, shown, failed } = await outcome(ctx, refused);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(shown.error).toBe(`provider_error: ${CONNECTION_FAILED}`);
    expect(failed.map((e) => e.data.detail)).toEqual([CONNECTION_FAILED]);
    expect(hooks.requests).toHaveLength(0);

    const allowed = await requestOnce('journey:hook:2');
    await runEngine(outboundGuard({ allow: ['hooks.internal.test'], resolve: rebound }));
    expect((await outcome(ctx, allowed)).row.status).toBe('sent');
    expect(hooks.requests.map((r) => r.path)).toEqual([`/hooks/${contactId}`]);
  });
});
