// Outbound webhooks through the gateway, as an integrator sets them up: an endpoint subscribed to
// crm.contact.created on a receiver of their own, a contact created through the graph, and the
// signed POST checked the way the README tells receivers to; the delivery log shows it. The
// same suite runs against both modes (Kafka and the worker in cluster mode, the local bus and the
// in-process dispatcher in embedded mode).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gql, type Platform, type PlatformFactory, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';

const CREATE_ENDPOINT = `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  __typename ... on WebhookEndpointWithSecret { secret endpoint { id enabled secretPrefix } }
  ... on WebhookUrlRefusedError { reason } ... on WebhookEndpointLimitError { limit } ... on Error { code } } }`;
const CREATE_CONTACT = `mutation($input: ContactInput!) { createContact(input: $input) {
  __typename ... on Contact { id } ... on Error { code } } }`;
const DELIVERIES = `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 10) { totalCount edges { node {
  eventId eventType status attempts payload log { attempt statusCode response } } } } }`;

const ENDPOINT_LIMIT = 2;

/** The README's check, as a receiver writes it. */
function verified(header: string, body: string, secret: string, toleranceS = 300) {
  const items = header.split(',').map((kv) => kv.split('=') as [string, string]);
  const t = Number(items.find(([k]) => k === 't')?.[1]);
  if (!(Math.abs(Date.now() / 1000 - t) <= toleranceS)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return items.some(([k, v]) => {
    const given = Buffer.from(k === 'v1' ? v : '', 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export function webhooksSuite(name: string, start: PlatformFactory) {
  describe(`outbound webhooks (${name})`, () => {
    let platform: Platform;
    let token: string;
    const received: { body: string; signature: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ body, signature: String(req.headers['mauntic-signature']) });
        res.end('ok');
      });
    });
    const call = async (query: string, variables: Record<string, unknown> = {}) => {
      const result = await gql(platform.url, query, variables, { token });
      expect(result.errors).toBeUndefined();
      return result.data!;
    };

    beforeAll(async () => {
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      // A low endpoint limit, so that reaching it takes a few calls.
      platform = await start({ WEBHOOK_MAX_ENDPOINTS: String(ENDPOINT_LIMIT) });
      token = (await signUp(platform.url, 'webhooks')).session.accessToken;
    }, 180_000);
    afterAll(async () => {
      await platform?.stop();
      receiver.close();
    });

    it('signs and sends a contact created through the graph; the log shows the delivery', {
      timeout: 120_000,
    }, async () => {
      const { port } = receiver.address() as AddressInfo;
      const made = (
        await call(CREATE_ENDPOINT, {
          input: { url: `http://127.0.0.1:${port}/hooks`, eventTypes: ['crm.contact.created'] },
        })
      ).createWebhookEndpoint;
      expect(made.__typename).toBe('WebhookEndpointWithSecret');
      expect(made.secret.startsWith(made.endpoint.secretPrefix)).toBe(true);
      const email = uniqueEmail('hooked');
      const contact = (await call(CREATE_CONTACT, { input: { email } })).createContact;
      expect(contact.__typename).toBe('Contact');
      await vi.waitFor(() => expect(received.length).toBeGreaterThan(0), { timeout: 90_000, interval: 100 });
      const [got] = received;
      const body = JSON.parse(got!.body);
      expect(body).toMatchObject({ type: 'crm.contact.created', data: { contact: { email } } });
      expect(verified(got!.signature, got!.body, made.secret)).toBe(true);
      await vi.waitFor(
        async () => {
          const log = (await call(DELIVERIES, { id: made.endpoint.id })).webhookDeliveries;
          expect(log.totalCount).toBe(1);
          expect(log.edges[0].node).toMatchObject({
            eventId: body.id,
            eventType: 'crm.contact.created',
            status: 'SUCCEEDED',
            attempts: 1,
            payload: body,
            log: [{ attempt: 1, statusCode: 200, response: 'ok' }],
          });
        },
        { timeout: 10_000, interval: 100 },
      );
    });

    it('refuses an endpoint on the metadata address with a typed error', async () => {
      const refused = (
        await call(CREATE_ENDPOINT, {
          input: { url: 'http://169.254.169.254/latest/meta-data/', eventTypes: ['crm.contact.created'] },
        })
      ).createWebhookEndpoint;
      expect(refused).toEqual({
        __typename: 'WebhookUrlRefusedError',
        code: 'WEBHOOK_URL_REFUSED',
        reason: 'it is not a public address',
      });
    });

    it('refuses an endpoint beyond the organization limit with a typed error, and creates nothing', async () => {
      // An organization of its own: the other tests' endpoints do not count against it.
      const own = (await signUp(platform.url, 'webhook-limit')).session.accessToken;
      const { port } = receiver.address() as AddressInfo;
      const create = async (n: number) => {
        const result = await gql(
          platform.url,
          CREATE_ENDPOINT,
          { input: { url: `http://127.0.0.1:${port}/limit-${n}`, eventTypes: ['crm.contact.created'] } },
          { token: own },
        );
        expect(result.errors).toBeUndefined();
        return result.data!.createWebhookEndpoint;
      };
      for (let n = 0; n < ENDPOINT_LIMIT; n++) expect((await create(n)).__typename).toBe('WebhookEndpointWithSecret');
      expect(await create(ENDPOINT_LIMIT)).toEqual({
        __typename: 'WebhookEndpointLimitError',
        code: 'WEBHOOK_ENDPOINT_LIMIT',
        limit: ENDPOINT_LIMIT,
      });
      const listed = await gql(platform.url, '{ webhookEndpoints(first: 10) { totalCount } }', {}, { token: own });
      expect(listed.data!.webhookEndpoints.totalCount).toBe(ENDPOINT_LIMIT);
    });
  });
}
