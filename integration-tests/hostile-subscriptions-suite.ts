// The hostile-input sweep for the gateway's Subscription fields, over graphql-ws and over SSE:
// every field (read from the composed schema, so a new one is covered without a new case), with
// each argument given the sweep's hostile values and with hostile shapes (wrong literal types,
// unknown arguments, null where a value is required, selections past the depth and alias limits,
// several or no root fields). Each must be answered by a typed GraphQL error (or open normally),
// never an internal error, a stack trace, a 5xx or a dropped connection, and the same connection
// must serve a live subscription afterwards. Then the WebSocket protocol itself: malformed
// connection_init payloads, bad tokens, protocol violations, an oversize message and the
// subscriptions-per-connection limit, each closed with a documented code (docs/graph.md).
import { randomBytes } from 'node:crypto';
import { secretKey, signAccessToken } from '@mauntic/platform';
import {
  buildClientSchema,
  type GraphQLField,
  GraphQLNonNull,
  type GraphQLOutputType,
  type GraphQLSchema,
  getIntrospectionQuery,
  getNamedType,
  type IntrospectionQuery,
  isInterfaceType,
  isLeafType,
  isObjectType,
} from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawData, WebSocket } from 'ws';
import { gql, type Platform, type PlatformFactory } from './harness.ts';
import { type Call, createFixtures, type Fixtures, IDS, subscriptionCallsOf } from './hostile-input-suite.ts';
import { signUp } from './identity-suite.ts';
import { firstDelivered, subscribe } from './subscriptions-suite.ts';

const CREATE = `mutation($input: ContactInput!) { createContact(input: $input) { __typename ... on Contact { id } } }`;
const CREATED = 'subscription { contactCreated { id contactId } }';
/** graphql-ws's protocol close codes, and the gateway's own (docs/graph.md). */
const DOCUMENTED_CLOSES = new Set([1000, 1001, 1009, 4008, 4400, 4401, 4403, 4408, 4409, 4429]);
/** A stack frame, as a leaked trace shows it. */
const STACK = /\n\s+at |\bat .+\(.*:\d+:\d+\)|node:internal|\.ts:\d+:\d+/;
/** The server's WebSocket message limit (its HTTP body limit). */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

interface WireError {
  message: string;
  extensions?: Record<string, unknown>;
}

/** Why an error is not a clean, typed refusal; undefined when it is one. */
function unclean(error: WireError): string | undefined {
  const code = error.extensions?.code;
  if (code === 'INTERNAL_SERVER_ERROR') return `internal error: ${error.message}`;
  if (typeof code !== 'string') return `untyped error: ${error.message}`;
  if (error.extensions?.stacktrace || error.extensions?.exception) return `stack trace in extensions (${code})`;
  if (STACK.test(error.message)) return `stack trace in the message: ${error.message.slice(0, 200)}`;
  return undefined;
}

const NAME = (f: GraphQLField<unknown, unknown>) => f.name;
const requiredArgs = (f: GraphQLField<unknown, unknown>) => f.args.some((a) => a.type instanceof GraphQLNonNull);

/** A selection `levels` object fields deep under `type` (fields without required arguments), if there is one. */
function deepSelection(type: GraphQLOutputType, levels: number, dead = new Set<string>()): string | undefined {
  if (levels === 0) return '__typename';
  const named = getNamedType(type);
  if (!isObjectType(named) && !isInterfaceType(named)) return undefined;
  const key = `${named.name}:${levels}`;
  if (dead.has(key)) return undefined;
  for (const field of Object.values(named.getFields())) {
    if (requiredArgs(field) || isLeafType(getNamedType(field.type))) continue;
    const rest = deepSelection(field.type, levels - 1, dead);
    if (rest) return `${field.name} { ${rest} }`;
  }
  dead.add(key);
  return undefined;
}

/** Hostile shapes of each Subscription field's operation, beyond the values of its arguments. */
export function subscriptionShapesOf(schema: GraphQLSchema): Call[] {
  const fields = Object.values(schema.getSubscriptionType()?.getFields() ?? {});
  return fields.flatMap((field) => {
    const name = NAME(field);
    const select = '{ __typename }';
    const call = (label: string, query: string, variables: Record<string, unknown> = {}): Call => ({
      label: `${name} ${label}`,
      query,
      variables,
    });
    const calls: Call[] = [
      call('unknown argument', `subscription { ${name}(bogus: 1) ${select} }`),
      call('two root fields', `subscription { ${name} ${select} again: ${name} ${select} }`),
      call('through a fragment', `subscription { ...F } fragment F on Subscription { ${name} ${select} }`),
      call('through an inline fragment', `subscription { ... on Subscription { ${name} ${select} } }`),
      call('skipped', `subscription { ${name} @skip(if: true) ${select} }`),
      call('fragment cycle', `subscription { ${name} { ...A } } fragment A on ${getNamedType(field.type)} { ...A }`),
      call('no selection', `subscription { ${name} }`),
      call('unknown field selected', `subscription { ${name} { notAField } }`),
      call(
        '250 aliases',
        `subscription { ${name} { ${Array.from({ length: 250 }, (_, i) => `a${i}: id`).join(' ')} } }`,
      ),
      call('huge operation name', `subscription ${'A'.repeat(100_000)} { ${name} ${select} }`),
    ];
    const deep = deepSelection(field.type, 20);
    if (deep) {
      calls.push(call('20 levels deep', `subscription { ${name} { ${deep} } }`));
      // The same deep entity 150 times: within the alias limit, far past the cost limit.
      const entity = deep.slice(0, deep.indexOf(' {'));
      const nested = deepSelection(field.type, 6);
      const entities = Array.from({ length: 150 }, (_, i) => `e${i}: ${nested}`).join(' ');
      if (entity && nested) calls.push(call('150 aliased entities', `subscription { ${name} { ${entities} } }`));
    }
    for (const arg of field.args) {
      const named = getNamedType(arg.type);
      const literals = ['{ bogus: 1 }', '[1, 2]', 'true', '1.5', '-1e400', 'NOT_A_VALUE', '[null]', 'null', '"x"'];
      for (const literal of literals)
        calls.push(call(`${arg.name}: ${literal}`, `subscription { ${name}(${arg.name}: ${literal}) ${select} }`));
      const wrong = [{ bogus: 1 }, [[1]], 1e308, true, [null], 'x'.repeat(100_000)];
      for (const value of wrong)
        calls.push(
          call(
            `$${arg.name}=${JSON.stringify(value).slice(0, 20)}`,
            `subscription($v: ${arg.type}) { ${name}(${arg.name}: $v) ${select} }`,
            { v: value },
          ),
        );
      calls.push(
        call(`$${arg.name} required, not given`, `subscription($v: ${named}!) { ${name}(${arg.name}: $v) ${select} }`),
        call(`$${arg.name} declared Boolean`, `subscription($v: Boolean) { ${name}(${arg.name}: $v) ${select} }`, {
          v: true,
        }),
        call(`$${arg.name} undeclared`, `subscription { ${name}(${arg.name}: $nope) ${select} }`),
      );
    }
    return calls;
  });
}

/** One raw graphql-transport-ws socket: what it received, and how it closed. */
interface RawSocket {
  socket: WebSocket;
  messages: Record<string, any>[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  next(type: string, timeoutMs?: number): Promise<Record<string, any> | undefined>;
}

async function rawSocket(url: string, headers: Record<string, string> = {}): Promise<RawSocket> {
  const socket = new WebSocket(url, 'graphql-transport-ws', { headers, maxPayload: 0 });
  const messages: Record<string, any>[] = [];
  socket.on('message', (data: RawData) => {
    try {
      messages.push(JSON.parse(String(data)));
    } catch {
      messages.push({ type: 'unparsable', data: String(data) });
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next: async (type, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = messages.find((m) => m.type === type);
        if (found) return found;
        if (socket.readyState !== WebSocket.OPEN) return undefined;
        await new Promise((r) => setTimeout(r, 20));
      }
      return undefined;
    },
  };
}

/** The close of a socket within `ms`, or undefined if it stays open. */
const closeWithin = (raw: RawSocket, ms: number) =>
  Promise.race([raw.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);

export function hostileSubscriptionsSuite(name: string, start: PlatformFactory) {
  describe(`every subscription field, with hostile arguments and connections (${name})`, () => {
    let platform: Platform;
    let token: string;
    let schema: GraphQLSchema;
    let fixtures: Fixtures;
    const clients: Client[] = [];
    const sockets: RawSocket[] = [];
    /** Every close code a WebSocket of this suite saw, with what caused it. */
    const closes: { code: number; reason: string; what: string }[] = [];
    const wsUrl = () => platform.url.replace(/^http/, 'ws');
    const connect = (authorization = `Bearer ${token}`, what = 'a client') => {
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: WebSocket,
        connectionParams: { authorization },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => {},
        on: { closed: (event) => closes.push({ ...(event as { code: number; reason: string }), what }) },
      });
      clients.push(client);
      return client;
    };
    const open = async (headers?: Record<string, string>) => {
      const raw = await rawSocket(wsUrl(), headers);
      sockets.push(raw);
      return raw;
    };
    /** A raw socket past connection_init with the caller's token. */
    const acked = async () => {
      const raw = await open();
      raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
      expect(await raw.next('connection_ack')).toBeDefined();
      return raw;
    };
    const createContact = async () => {
      const created = await gql(
        platform.url,
        CREATE,
        { input: { email: `hostile.${randomBytes(4).toString('hex')}@example.com` } },
        { token },
      );
      expect(created.data?.createContact.__typename).toBe('Contact');
      return created.data!.createContact.id as string;
    };
    /** The client still serves: a new subscription on it receives a contact created now. */
    const stillServes = async (client: Client) => {
      const live = subscribe(client, CREATED);
      await firstDelivered(live.events, createContact, (e, id) => e.contactId === id, 'a live event afterwards');
      expect(live.errors).toEqual([]);
      live.stop();
    };

    beforeAll(async () => {
      platform = await start();
      token = (await signUp(platform.url, 'hostile-subs')).session.accessToken;
      const introspection = await gql<IntrospectionQuery>(platform.url, getIntrospectionQuery(), {}, { token });
      schema = buildClientSchema(introspection.data!);
      fixtures = await createFixtures(platform.url, token);
    }, 300_000);
    afterAll(async () => {
      for (const client of clients) await client.dispose();
      for (const raw of sockets) raw.socket.terminate();
      await platform?.stop();
    });

    it('answers every hostile subscription over graphql-ws with a typed error or a stream, on a connection that keeps serving', async () => {
      const calls = [...subscriptionCallsOf(schema, fixtures), ...subscriptionShapesOf(schema)];
      const fields = Object.keys(schema.getSubscriptionType()!.getFields());
      expect(calls.length).toBeGreaterThan(fields.length * 30);
      const client = connect(`Bearer ${token}`, 'the graphql-ws sweep');
      const failures: string[] = [];
      let opened = 0;
      let refused = 0;
      // In batches (each subscription holds a slot of the connection until stopped): what has not
      // been refused once the batch settles was opened.
      for (let i = 0; i < calls.length; i += 40) {
        const batch = calls
          .slice(i, i + 40)
          .map((call) => ({ call, received: subscribe(client, call.query, call.variables) }));
        await Promise.race([Promise.all(batch.map((b) => b.received.done)), new Promise((r) => setTimeout(r, 1_500))]);
        for (const { call, received } of batch) {
          received.stop();
          if (received.errors.length === 0) {
            opened++;
            continue;
          }
          refused++;
          for (const error of received.errors) {
            if (!Array.isArray(error) && !(error as WireError).message) {
              const { code, reason } = error as { code?: number; reason?: string };
              failures.push(`${call.label}: the connection failed: ${code} ${reason ?? String(error)}`);
              continue;
            }
            for (const e of (Array.isArray(error) ? error : [error]) as WireError[]) {
              const why = unclean(e);
              if (why) failures.push(`${call.label}: ${why}`);
            }
          }
        }
      }
      expect(failures, `${failures.length} of ${calls.length} calls failed`).toEqual([]);
      expect(closes.filter((c) => c.what === 'the graphql-ws sweep')).toEqual([]);
      // Each field's plain call opened; most hostile shapes were refused.
      expect(opened).toBeGreaterThanOrEqual(fields.length);
      expect(refused).toBeGreaterThan(fields.length * 20);
      await stillServes(client);
    }, 900_000);

    it('answers every hostile subscription over SSE (and hostile Last-Event-ID headers) with a typed error or a stream, never a 5xx', async () => {
      const fields = Object.values(schema.getSubscriptionType()!.getFields());
      const headerSafe = IDS.filter((id) => /^[\x20-\x7e]{1,8000}$/.test(id));
      const resumes = fields
        .filter((f) => f.args.some((a) => a.name === 'after'))
        .flatMap((f) =>
          headerSafe.map((id) => ({
            label: `${f.name} Last-Event-ID: ${id.slice(0, 40)}`,
            query: `subscription { ${f.name} { __typename } }`,
            variables: {},
            lastEventId: id,
          })),
        );
      const calls: (Call & { lastEventId?: string })[] = [
        ...subscriptionCallsOf(schema, fixtures),
        ...subscriptionShapesOf(schema),
        ...resumes,
      ];
      const failures: string[] = [];
      let opened = 0;
      for (const call of calls) {
        const abort = new AbortController();
        const response = await fetch(platform.url, {
          method: 'POST',
          signal: abort.signal,
          headers: {
            'content-type': 'application/json',
            accept: 'text/event-stream',
            authorization: `Bearer ${token}`,
            ...(call.lastEventId ? { 'last-event-id': call.lastEventId } : {}),
          },
          body: JSON.stringify({ query: call.query, variables: call.variables }),
        });
        // A stream means the subscription was admitted and opened: nothing more to see here.
        if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
          opened++;
          abort.abort();
          continue;
        }
        const text = await response.text();
        let body: { errors?: WireError[] } = {};
        try {
          body = JSON.parse(text);
        } catch {
          failures.push(`${call.label}: ${response.status}, not JSON: ${text.slice(0, 200)}`);
          continue;
        }
        if (response.status >= 500) failures.push(`${call.label}: ${response.status}`);
        if (!body.errors?.length) failures.push(`${call.label}: ${response.status} without errors`);
        for (const error of body.errors ?? []) {
          const why = unclean(error);
          if (why) failures.push(`${call.label}: ${why}`);
        }
      }
      expect(failures, `${failures.length} of ${calls.length} calls failed`).toEqual([]);
      expect(opened).toBeGreaterThanOrEqual(fields.length);
      // The gateway still streams over SSE.
      const sse = createSseClient({
        url: platform.url,
        headers: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });
      const events: Record<string, any>[] = [];
      const stop = sse.subscribe(
        { query: CREATED },
        {
          next: (r) => r.data && events.push(r.data.contactCreated as Record<string, any>),
          error: () => {},
          complete: () => {},
        },
      );
      await firstDelivered(events, createContact, (e, id) => e.contactId === id, 'an SSE event afterwards');
      stop();
      sse.dispose();
    }, 900_000);

    it('refuses malformed connection_init payloads: a documented close, or no credentials at all', async () => {
      const deep = (levels: number): unknown => (levels === 0 ? 'Bearer x' : { authorization: deep(levels - 1) });
      const payloads: unknown[] = [
        'not an object',
        42,
        [1, 2],
        { authorization: 123 },
        { authorization: ['Bearer x'] },
        { authorization: { toString: 'Bearer x' } },
        { authorization: null },
        { authorization: '' },
        { authorization: 'x'.repeat(1_000_000) },
        { authorization: `Bearer ${'a'.repeat(200_000)}` },
        { authorization: 'Bearer \u0000' },
        { authorization: 'Bearer \ud800' },
        { Authorization: 'Bearer not-a-token' },
        { __proto__: { authorization: `Bearer ${token}` } },
        deep(2_000),
      ];
      const failures: string[] = [];
      for (const payload of payloads) {
        const label = JSON.stringify(payload)?.slice(0, 60);
        const raw = await open();
        raw.send(`{"type":"connection_init","payload":${JSON.stringify(payload)}}`);
        const ack = await raw.next('connection_ack', 3_000);
        if (!ack) {
          const close = await closeWithin(raw, 5_000);
          if (!close) failures.push(`${label}: neither acknowledged nor closed`);
          else if (!DOCUMENTED_CLOSES.has(close.code) || STACK.test(close.reason))
            failures.push(`${label}: closed ${close.code} ${close.reason}`);
          continue;
        }
        // Acknowledged: then it carried no credentials, and a subscription is refused as anonymous.
        raw.send({ id: '1', type: 'subscribe', payload: { query: CREATED } });
        const error = await raw.next('error');
        const codes = (error?.payload as WireError[] | undefined)?.map((e) => e.extensions?.code);
        if (!codes?.includes('UNAUTHENTICATED')) failures.push(`${label}: acknowledged, then ${JSON.stringify(error)}`);
        raw.socket.close();
      }
      expect(failures).toEqual([]);
    });

    it('closes connections with bad tokens with 4401, on connection_init and on the upgrade, without a stack trace', async () => {
      const forged = await signAccessToken(
        { userId: fixtures.user!, organizationId: fixtures.user!, role: 'owner' },
        secretKey(randomBytes(32).toString('base64url')),
        600,
      );
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      const claims = Buffer.from(JSON.stringify({ sub: fixtures.user, exp: 4_000_000_000 })).toString('base64url');
      const tokens = [
        'Bearer not-a-token',
        `Bearer ${forged.token}`,
        `Bearer ${header}.${claims}.`,
        `Bearer ${token}x`,
        `Bearer ${token.split('.').reverse().join('.')}`,
        'Basic dXNlcjpwYXNzd29yZA==',
        'Bearer mk_live_notarealkey',
        `Bearer ${"'; drop table api_keys; --"}`,
      ];
      const failures: string[] = [];
      for (const authorization of tokens) {
        for (const where of ['connection_init', 'upgrade'] as const) {
          const raw = await open(where === 'upgrade' ? { authorization } : {});
          raw.send({ type: 'connection_init', payload: where === 'upgrade' ? {} : { authorization } });
          const close = await closeWithin(raw, 5_000);
          if (close?.code !== 4401 || STACK.test(close.reason))
            failures.push(`${authorization.slice(0, 40)} on ${where}: ${JSON.stringify(close ?? raw.messages)}`);
        }
      }
      expect(failures).toEqual([]);
    });

    it('closes protocol violations with graphql-ws codes (4400, 4401, 4408, 4409, 4429), never an internal error', async () => {
      const cases: { label: string; init: boolean; send: unknown[]; code: number }[] = [
        { label: 'not JSON', init: false, send: ['{not json'], code: 4400 },
        { label: 'an unknown message type', init: true, send: [{ type: 'explode' }], code: 4400 },
        { label: 'a message without a type', init: true, send: [{ id: '1' }], code: 4400 },
        { label: 'a JSON array', init: true, send: ['[1,2,3]'], code: 4400 },
        {
          label: 'subscribe before connection_init',
          init: false,
          send: [{ id: '1', type: 'subscribe', payload: { query: CREATED } }],
          code: 4401,
        },
        { label: 'a second connection_init', init: true, send: [{ type: 'connection_init', payload: {} }], code: 4429 },
        {
          label: 'a subscription id in use',
          init: true,
          send: [
            { id: 'same', type: 'subscribe', payload: { query: CREATED } },
            { id: 'same', type: 'subscribe', payload: { query: CREATED } },
          ],
          code: 4409,
        },
        {
          label: 'a numeric id',
          init: true,
          send: [{ id: 1, type: 'subscribe', payload: { query: CREATED } }],
          code: 4400,
        },
        {
          label: 'a query that is not a string',
          init: true,
          send: [{ id: '1', type: 'subscribe', payload: { query: 42 } }],
          code: 4400,
        },
        {
          label: 'variables that are not an object',
          init: true,
          send: [{ id: '1', type: 'subscribe', payload: { query: CREATED, variables: 'x' } }],
          code: 4400,
        },
        { label: 'a subscribe without payload', init: true, send: [{ id: '1', type: 'subscribe' }], code: 4400 },
      ];
      const failures: string[] = [];
      for (const c of cases) {
        const raw = c.init ? await acked() : await open();
        for (const message of c.send) raw.send(message);
        const close = await closeWithin(raw, 5_000);
        if (close?.code !== c.code || STACK.test(close.reason))
          failures.push(`${c.label}: expected ${c.code}, got ${JSON.stringify(close ?? 'still open')}`);
      }
      // A socket that never says connection_init is closed after graphql-ws's wait (3 s).
      const silent = await open();
      const timeout = await closeWithin(silent, 10_000);
      if (timeout?.code !== 4408) failures.push(`no connection_init: ${JSON.stringify(timeout ?? 'still open')}`);
      expect(failures).toEqual([]);

      // What is only a bad operation gets an error for that operation, and the socket stays open.
      const raw = await acked();
      raw.send({ id: 'syntax', type: 'subscribe', payload: { query: 'subscription {' } });
      raw.send({ id: 'unknown', type: 'complete' });
      raw.send({ type: 'ping' });
      const error = await raw.next('error');
      expect(error?.id).toBe('syntax');
      for (const e of error!.payload as WireError[]) expect(unclean(e)).toBeUndefined();
      expect(await raw.next('pong')).toBeDefined();
      expect(await closeWithin(raw, 500)).toBeUndefined();
    }, 120_000);

    it(`closes a socket sent a message over ${MAX_MESSAGE_BYTES} bytes with 1009, and serves the next connection`, async () => {
      const raw = await acked();
      const query = `subscription { contactCreated { id } } # ${'x'.repeat(MAX_MESSAGE_BYTES)}`;
      raw.send({ id: 'big', type: 'subscribe', payload: { query } });
      const close = await closeWithin(raw, 30_000);
      expect(close?.code).toBe(1009);
      await stillServes(connect(`Bearer ${token}`, 'after the oversize message'));
    }, 120_000);

    it('refuses the subscription past the per-connection limit (100), and frees the slots of those stopped', async () => {
      const client = connect(`Bearer ${token}`, 'the per-connection limit');
      // Subscriptions to a campaign id that never streams: slots held by clients waiting quietly.
      const quiet = `subscription($id: ID) { campaignProgress(campaignId: $id) { id } }`;
      const held = Array.from({ length: 101 }, () => subscribe(client, quiet, { id: fixtures.campaign }));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && held.filter((s) => s.errors.length).length < 1)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      const refused = held.filter((s) => s.errors.length);
      expect(refused).toHaveLength(1);
      expect(JSON.stringify(refused[0]!.errors)).toContain('SUBSCRIPTION_LIMIT');
      for (const e of refused[0]!.errors as WireError[][])
        for (const one of [e].flat()) expect(unclean(one)).toBeUndefined();
      // Stopped, their slots are free again at once, though no event ever came for them.
      for (const s of held) s.stop();
      await new Promise((r) => setTimeout(r, 500));
      const again = Array.from({ length: 100 }, () => subscribe(client, quiet, { id: fixtures.campaign }));
      await new Promise((r) => setTimeout(r, 2_000));
      expect(again.flatMap((s) => s.errors)).toEqual([]);
      for (const s of again) s.stop();
      await new Promise((r) => setTimeout(r, 500));
      await stillServes(client);
      expect(closes.filter((c) => c.what === 'the per-connection limit')).toEqual([]);
    }, 120_000);

    it('closed every connection with a documented code, and the gateway still answers', async () => {
      const undocumented = closes.filter((c) => !DOCUMENTED_CLOSES.has(c.code) || STACK.test(c.reason));
      expect(undocumented).toEqual([]);
      const me = await gql(platform.url, '{ me { user { id } } }', {}, { token });
      expect(me.data?.me.user.id).toBe(fixtures.user);
    });
  });
}
