// Segment-compatible ingestion through the public address, as an integrator's app calls it: the
// real @segment/analytics-node client sends identify and track to a source made through the
// graph; CRM then has the contact with its traits and the event on its timeline. A resent
// messageId is applied once; oversize, malformed and unauthenticated calls get Segment's
// documented answers and change nothing. The same suite runs against both modes.
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gql, type Platform, type PlatformFactory, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';

const CREATE_SOURCE = `mutation($input: CreateSourceInput!) { createSource(input: $input) {
  __typename ... on SourceWithWriteKey { writeKey source { id name writeKeyPrefix } } ... on Error { code } } }`;
const ROLL = `mutation($input: RollSourceWriteKeyInput!) { rollSourceWriteKey(input: $input) {
  __typename ... on SourceWithWriteKey { writeKey } ... on Error { code } } }`;
const CONTACT_BY_EMAIL = `query($filter: JSON) { contacts(filter: $filter, first: 5) {
  totalCount edges { node { id email firstName timeline(first: 20) { items { type subject } } } } } }`;

export function integrationsSuite(name: string, start: PlatformFactory) {
  describe(`Segment-compatible ingestion (${name})`, () => {
    let platform: Platform;
    let token: string;
    let writeKey: string;
    let sourceId: string;
    const call = async (query: string, variables: Record<string, unknown> = {}) => {
      const result = await gql(platform.url, query, variables, { token });
      expect(result.errors).toBeUndefined();
      return result.data!;
    };
    const contactsWith = async (email: string) =>
      (await call(CONTACT_BY_EMAIL, { filter: { field: 'email', op: 'eq', value: email } })).contacts;
    const post = (path: string, body: string, key = writeKey) =>
      fetch(`${platform.publicUrl}/v1/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${key}:`)}` },
        body,
      });

    beforeAll(async () => {
      platform = await start();
      token = (await signUp(platform.url, 'integrator')).session.accessToken;
      const made = (await call(CREATE_SOURCE, { input: { name: 'Website' } })).createSource;
      expect(made).toMatchObject({ __typename: 'SourceWithWriteKey', source: { name: 'Website' } });
      expect(made.writeKey.startsWith(made.source.writeKeyPrefix)).toBe(true);
      writeKey = made.writeKey;
      sourceId = made.source.id;
    });
    afterAll(() => platform?.stop());

    it("takes analytics-node's identify and track: the contact, its traits and the event reach CRM", {
      timeout: 120_000,
    }, async () => {
      const email = uniqueEmail('segment');
      const analytics = new Analytics({ writeKey, host: platform.publicUrl, flushInterval: 100, maxRetries: 0 });
      const failures: unknown[] = [];
      analytics.on('error', (error) => failures.push(error));
      analytics.identify({
        userId: 'user-42',
        anonymousId: 'anon-42',
        traits: { email, firstName: 'Ada', plan: 'pro' },
      });
      analytics.track({ userId: 'user-42', event: 'Order Completed', properties: { total: 42 } });
      analytics.page({ anonymousId: 'anon-42', name: 'Pricing' });
      await analytics.closeAndFlush();
      expect(failures).toEqual([]);
      await vi.waitFor(
        async () => {
          const found = await contactsWith(email);
          expect(found.totalCount).toBe(1);
          const contact = found.edges[0].node;
          expect(contact.firstName).toBe('Ada');
          const events = contact.timeline.items.filter((i: { type: string }) => i.type === 'event');
          expect(events.map((i: { subject: string }) => i.subject).sort()).toEqual(['Order Completed', 'Page Viewed']);
        },
        // The first calls also wait for CRM's consumer group to join (cluster), slow on a busy machine.
        { timeout: 90_000, interval: 250 },
      );
    });

    it('applies a resent messageId once', async () => {
      const email = uniqueEmail('dedup');
      const identify = JSON.stringify({ messageId: `id-${email}`, userId: email, traits: { email } });
      const track = JSON.stringify({ messageId: `track-${email}`, userId: email, event: 'Clicked' });
      for (const [path, body] of [
        ['identify', identify],
        ['track', track],
        ['track', track],
        ['batch', JSON.stringify({ batch: [{ type: 'track', ...JSON.parse(track) }] })],
      ] as const) {
        const response = await post(path, body);
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ success: true });
      }
      // A later call goes through the same ordered path: once it is applied, the duplicates would be too.
      expect((await post('track', JSON.stringify({ userId: email, event: 'Marker' }))).status).toBe(200);
      await vi.waitFor(
        async () => {
          const events = (await contactsWith(email)).edges[0]?.node.timeline.items.map(
            (i: { subject: string }) => i.subject,
          );
          expect(events).toContain('Marker');
          expect(events.filter((s: string) => s === 'Clicked')).toHaveLength(1);
        },
        { timeout: 30_000, interval: 250 },
      );
    });

    it('answers oversize and malformed calls with 400, an unknown write key with 401, and applies none of them', async () => {
      const email = uniqueEmail('refused');
      const identify = (extra: Record<string, unknown>) =>
        JSON.stringify({ userId: email, traits: { email }, ...extra });
      const refusals = [
        [await post('identify', identify({ context: { blob: 'x'.repeat(33 * 1024) } })), 400],
        [
          await post(
            'batch',
            JSON.stringify({
              batch: Array.from({ length: 20 }, () => ({
                type: 'identify',
                userId: email,
                traits: { email, p: 'x'.repeat(30_000) },
              })),
            }),
          ),
          400,
        ],
        [await post('identify', '{"userId": '), 400],
        [await post('track', JSON.stringify({ userId: email })), 400],
        [await post('identify', identify({}), 'wk_not-a-key'), 401],
      ] as const;
      for (const [response, status] of refusals) {
        expect(response.status).toBe(status);
        expect(await response.json()).toMatchObject({ success: false });
      }
      // The old key stops working once rolled (within the endpoint's 10 s cache of known keys).
      const rolled = (await call(ROLL, { input: { id: sourceId } })).rollSourceWriteKey;
      expect(rolled.__typename).toBe('SourceWithWriteKey');
      const old = writeKey;
      writeKey = rolled.writeKey;
      const probe = JSON.stringify({ userId: 'probe', event: 'Probe' });
      await vi.waitFor(async () => expect((await post('track', probe, old)).status).toBe(401), {
        timeout: 15_000,
        interval: 500,
      });
      // Something accepted afterwards is applied; nothing refused before it was.
      const marker = uniqueEmail('marker');
      expect((await post('identify', JSON.stringify({ userId: marker, traits: { email: marker } }))).status).toBe(200);
      await vi.waitFor(async () => expect((await contactsWith(marker)).totalCount).toBe(1), { timeout: 30_000 });
      expect((await contactsWith(email)).totalCount).toBe(0);
    });
  });
}
