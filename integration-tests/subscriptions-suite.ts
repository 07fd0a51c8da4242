// Subscriptions through the gateway, with the real graphql-ws and graphql-sse clients; the same
// suite runs against both modes (the local bus when embedded, Kafka in the cluster).
import { randomBytes } from 'node:crypto';
import { secretKey, signAccessToken } from '@mauntic/platform';
import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { gql, type Platform, type PlatformFactory } from './harness.ts';
import { signUp } from './identity-suite.ts';

const CREATE = `mutation($input: ContactInput!) { createContact(input: $input) { __typename ... on Contact { id email } ... on Error { code } } }`;
const UPDATE = `mutation($id: ID!, $set: ContactInput!) { updateContact(input: { id: $id, set: $set }) { __typename ... on Error { code } } }`;
const CREATE_KEY = `mutation($scopes: [String!]!) { createApiKey(input: { name: "subscriber", scopes: $scopes }) {
  __typename ... on CreatedApiKey { secret apiKey { id } } ... on Error { code } } }`;
const REVOKE_KEY = `mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename } }`;
const CREATED = `subscription($after: ID) { contactCreated(after: $after) { id type occurredAt contactId contact { email firstName } } }`;

export interface Received {
  events: Record<string, any>[];
  errors: unknown[];
  done: Promise<void>;
  stop(): void;
}

export function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}): Received {
  const events: Record<string, any>[] = [];
  const errors: unknown[] = [];
  let stop = () => {};
  const done = new Promise<void>((resolve) => {
    stop = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) errors.push(...result.errors);
          if (result.data) events.push(Object.values(result.data)[0] as Record<string, any>);
        },
        error: (error) => {
          errors.push(error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { events, errors, done, stop: () => stop() };
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000, state?: () => unknown) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(state?.())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes an event (one a second) until the subscriber has received one of them, and returns the
 * first it received: a subscription is live only once the gateway has it, which a busy machine
 * may take seconds to reach, so no fixed wait would do.
 */
export async function firstDelivered<T>(
  events: Record<string, any>[],
  make: () => Promise<T>,
  matches: (event: Record<string, any>, made: T) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<{ event: Record<string, any>; made: T }> {
  const deadline = Date.now() + timeoutMs;
  const made: T[] = [];
  let nextAt = 0;
  for (;;) {
    for (const event of events) {
      const hit = made.find((m) => matches(event, m));
      if (hit !== undefined) return { event, made: hit };
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (Date.now() >= nextAt) {
      made.push(await make());
      nextAt = Date.now() + 1000;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function subscriptionsSuite(name: string, start: PlatformFactory) {
  describe(`subscriptions through the gateway (${name})`, () => {
    const jwtSecret = randomBytes(32).toString('base64url');
    let platform: Platform;
    let token: string;
    let organizationId: string;
    let userId: string;
    let otherToken: string;
    const clients: Client[] = [];
    const wsUrl = () => platform.url.replace(/^http/, 'ws');
    const closes: { code: number }[] = [];
    const connect = (authorization: string | undefined, closed = closes) => {
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: WebSocket,
        connectionParams: authorization ? { authorization } : {},
        retryAttempts: 0,
        lazy: false,
        // A refused or closed connection is what several tests expect: on.closed records it.
        onNonLazyError: () => {},
        on: { closed: (event) => closed.push(event as { code: number }) },
      });
      clients.push(client);
      return client;
    };
    const createContact = async (email: string, t = token) => {
      const created = await gql(platform.url, CREATE, { input: { email, firstName: 'Sub' } }, { token: t });
      expect(created.data?.createContact.__typename).toBe('Contact');
      return created.data!.createContact.id as string;
    };

    beforeAll(async () => {
      platform = await start({
        AUTH_JWT_SECRET: jwtSecret,
        GATEWAY_SUBSCRIPTIONS_PER_CONNECTION: '3',
        GATEWAY_SUBSCRIPTION_RECHECK_SECONDS: '1',
      });
      const { session } = await signUp(platform.url, 'subs');
      token = session.accessToken;
      organizationId = session.organization.id;
      userId = session.user.id;
      otherToken = (await signUp(platform.url, 'subs-other')).session.accessToken;
    }, 300_000);
    afterAll(async () => {
      for (const client of clients) await client.dispose();
      await platform?.stop();
    });

    it('serves the Subscription type in the schema (introspection)', async () => {
      const result = await gql(
        platform.url,
        `{ __schema { subscriptionType { name fields { name } } } __type(name: "DeliveryEvent") { fields { name } } }`,
        {},
        { token },
      );
      const fields = result.data?.__schema.subscriptionType.fields.map((f: { name: string }) => f.name);
      expect(fields).toEqual(
        expect.arrayContaining(['contactCreated', 'segmentEntered', 'messageOpened', 'journeyRunStarted']),
      );
      expect(result.data?.__type.fields.map((f: { name: string }) => f.name)).toContain('template');
    });

    it('delivers typed events with entity fields over graphql-ws, to the organization alone', async () => {
      const mine = subscribe(connect(`Bearer ${token}`), CREATED);
      const theirs = subscribe(connect(`Bearer ${otherToken}`), CREATED);
      const { event, made } = await firstDelivered(
        mine.events,
        async () => {
          const email = `ws.${randomBytes(4).toString('hex')}@example.com`;
          return { email, id: await createContact(email) };
        },
        (e, m) => e.contactId === m.id,
        'the contact.created event',
      );
      expect(event).toMatchObject({ type: 'crm.contact.created', contact: { email: made.email, firstName: 'Sub' } });
      expect(mine.errors).toEqual([]);
      // The other organization's subscriber saw none of it (nor anything else).
      await new Promise((r) => setTimeout(r, 500));
      expect(theirs.events).toEqual([]);
      mine.stop();
      theirs.stop();
    });

    it("delivers over SSE with graphql-sse, an alias and the update's changed fields", async () => {
      const client = createSseClient({
        url: platform.url,
        headers: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });
      const events: Record<string, any>[] = [];
      const stop = client.subscribe(
        { query: `subscription { contactUpdated { id contactId changed person: contact { mail: email lastName } } }` },
        {
          next: (r) => r.data && events.push(r.data.contactUpdated as Record<string, any>),
          error: () => {},
          complete: () => {},
        },
      );
      const { event } = await firstDelivered(
        events,
        async () => {
          const id = await createContact(`sse.${randomBytes(4).toString('hex')}@example.com`);
          const updated = await gql(platform.url, UPDATE, { id, set: { lastName: 'Streamed' } }, { token });
          expect(updated.data?.updateContact.__typename).toBe('Contact');
          return id;
        },
        (e, id) => e.contactId === id,
        'the contact.updated event over SSE',
      );
      expect(event).toMatchObject({ changed: ['lastName'], person: { lastName: 'Streamed' } });
      expect(event.person.mail).toMatch(/^sse\./);
      stop();
      client.dispose();
    });

    it('refuses a subscription the caller has no scope for, and counts subscriptions per connection', async () => {
      const key = await gql(platform.url, CREATE_KEY, { scopes: ['delivery:read'] }, { token });
      const client = connect(`Bearer ${key.data!.createApiKey.secret}`);
      const refused = subscribe(client, CREATED);
      await refused.done;
      expect(JSON.stringify(refused.errors)).toContain('crm:read');
      const open = [1, 2, 3].map(() => subscribe(client, `subscription { messageOpened { id } }`));
      const fourth = subscribe(client, `subscription { messageOpened { id } }`);
      await fourth.done;
      expect(JSON.stringify(fourth.errors)).toContain('SUBSCRIPTION_LIMIT');
      for (const s of open) s.stop();
    });

    it('resumes after the last event id it saw, in order, without loss or duplicates', async () => {
      const first = subscribe(connect(`Bearer ${token}`), CREATED);
      const { event: firstEvent, made: a } = await firstDelivered(
        first.events,
        () => createContact(`resume.a.${randomBytes(3).toString('hex')}@example.com`),
        (e, id) => e.contactId === id,
        'the first event',
      );
      const seen = firstEvent.id as string;
      first.stop();
      const missed: string[] = [];
      for (const label of ['b', 'c', 'd'])
        missed.push(await createContact(`resume.${label}.${randomBytes(3).toString('hex')}@example.com`));
      // Let the missed events reach the gateway before resuming.
      await new Promise((r) => setTimeout(r, name === 'cluster' ? 3000 : 300));
      const resumed = subscribe(connect(`Bearer ${token}`), CREATED, { after: seen });
      await until(() => missed.every((id) => resumed.events.some((e) => e.contactId === id)), 'the missed events');
      const live = await createContact(`resume.e.${randomBytes(3).toString('hex')}@example.com`);
      await until(() => resumed.events.some((e) => e.contactId === live), 'the live event after the replay');
      const ids = resumed.events.map((e) => e.contactId);
      expect(ids).not.toContain(a);
      expect(ids.filter((id) => [...missed, live].includes(id))).toEqual([...missed, live]);
      expect(new Set(resumed.events.map((e) => e.id)).size).toBe(resumed.events.length);
      resumed.stop();
    });

    it('closes the socket when the session token expires (4401) or the API key is revoked (4403)', async () => {
      const expiring = await signAccessToken({ userId, organizationId, role: 'owner' }, secretKey(jwtSecret), 2);
      const expiryCloses: { code: number }[] = [];
      const client = connect(`Bearer ${expiring.token}`, expiryCloses);
      const sub = subscribe(client, CREATED);
      await until(() => expiryCloses.length > 0, 'the close at expiry', 10_000);
      expect(expiryCloses[0]!.code).toBe(4401);
      await sub.done;

      const key = await gql(platform.url, CREATE_KEY, { scopes: ['crm:read'] }, { token });
      const revokedCloses: { code: number }[] = [];
      const keyed = subscribe(connect(`Bearer ${key.data!.createApiKey.secret}`, revokedCloses), CREATED);
      await new Promise((r) => setTimeout(r, 300));
      const revoked = await gql(platform.url, REVOKE_KEY, { id: key.data!.createApiKey.apiKey.id }, { token });
      expect(revoked.data?.revokeApiKey.__typename).toBe('ApiKey');
      await until(() => revokedCloses.length > 0, 'the close after revocation', 10_000);
      expect(revokedCloses[0]!.code).toBe(4403);
      await keyed.done;
    });

    it('refuses a connection without valid credentials', async () => {
      const closed: { code: number }[] = [];
      const sub = subscribe(connect('Bearer not-a-token', closed), CREATED);
      await sub.done;
      expect(closed[0]?.code).toBe(4401);
      const anonymous = subscribe(connect(undefined), CREATED);
      await anonymous.done;
      expect(JSON.stringify(anonymous.errors)).toContain('UNAUTHENTICATED');
    });
  });
}
