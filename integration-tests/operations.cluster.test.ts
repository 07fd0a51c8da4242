// Cluster mode as an operator meets it: processes that freeze, that are told to stop while they
// work (a rolling update), and a send for a contact another process has not seen yet.
import { testServices } from '@mauntic/platform/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MJML } from './delivery-suite.ts';
import { gql, type Platform, startClusterPlatform, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';

const CREATE_CONTACT = `mutation($input: ContactInput!) { createContact(input: $input) {
  __typename ... on Contact { id } ... on Error { code message } } }`;
const CREATE_TEMPLATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) {
  __typename ... on Template { id } ... on Error { code message } } }`;
const SEND_EMAIL = `mutation($input: SendMessageInput!) { sendEmail(input: $input) {
  __typename ... on Message { id status } ... on NotFoundError { entity } ... on Error { code message } } }`;

let platform: Platform;
beforeAll(async () => {
  platform = await startClusterPlatform(
    { GATEWAY_SUBGRAPH_TIMEOUT_MS: '1500' },
    { deliveryEngine: true, journeyExecutor: true, campaignSender: true },
  );
});
afterAll(() => platform?.stop());

describe('cluster mode: a frozen subgraph', () => {
  it('fails its queries within the timeout, naming it, and takes the gateway out of readiness until it answers again', async () => {
    const identity = platform.processes!.identity!.child;
    const readyz = platform.url.replace('/graphql', '/readyz');
    // Identity answers an anonymous caller that it does not know them.
    const answered = async () => (await gql(platform.url, '{ me { actorType } }')).errors?.[0]?.extensions?.code;
    expect(await answered()).toBe('UNAUTHENTICATED');
    expect((await fetch(readyz)).status).toBe(200);

    identity.kill('SIGSTOP');
    try {
      const started = Date.now();
      const frozen = await gql(platform.url, '{ me { actorType } }');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(frozen.errors?.[0]).toMatchObject({
        message: 'Subgraph "identity" did not answer within 1500 ms',
        extensions: { code: 'SUBGRAPH_TIMEOUT', serviceName: 'identity' },
      });
      const unready = await fetch(readyz);
      expect(unready.status).toBe(503);
      expect(((await unready.json()) as { checks: Record<string, string> }).checks.subgraphs).toMatch(
        /identity: no answer within/,
      );
    } finally {
      identity.kill('SIGCONT');
    }
    expect((await fetch(readyz)).status).toBe(200);
    expect(await answered()).toBe('UNAUTHENTICATED');
  });
});

describe('cluster mode: sending to a contact just created', () => {
  it('waits for delivery to learn of it rather than answering NotFound', async () => {
    const { session } = await signUp(platform.url, 'send-now');
    const call = (query: string, variables: Record<string, unknown>) =>
      gql(platform.url, query, variables, { token: session.accessToken });
    const template = await call(CREATE_TEMPLATE, {
      input: {
        name: 'welcome',
        channel: 'EMAIL',
        source: { mjml: MJML, subject: 'Welcome', fromAddress: 'shop@shop.example.com' },
      },
    });
    const templateId: string = template.data!.createTemplate.id;
    // Delivery's copy of a contact arrives 50-340 ms after createContact answers: without the
    // wait about a third of these sends answered NotFound.
    for (let i = 0; i < 12; i++) {
      const contact = await call(CREATE_CONTACT, { input: { email: uniqueEmail('now') } });
      const contactId: string = contact.data!.createContact.id;
      const sent = await call(SEND_EMAIL, { input: { templateId, contactId, idempotencyKey: `now-${i}` } });
      expect(sent.data?.sendEmail).toMatchObject({ __typename: 'Message', status: 'QUEUED' });
    }
    // An id no contact was made with lately is answered at once.
    const started = Date.now();
    const unknown = await call(SEND_EMAIL, {
      input: { templateId, contactId: '0190a000-0000-7000-8000-000000000000', idempotencyKey: 'unknown' },
    });
    expect(unknown.data?.sendEmail).toMatchObject({ __typename: 'NotFoundError', entity: 'Contact' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('cluster mode: SIGTERM, as a rolling update sends it', () => {
  const kafka = new Kafka({ brokers: testServices.kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  beforeAll(() => admin.connect());
  afterAll(() => admin.disconnect());

  /** The consumer-group memberships the named process holds. */
  async function memberships(name: string): Promise<number> {
    const prefix = platform.kafkaPrefix!;
    const { groups } = await admin.listGroups();
    const ids = groups.map((g) => g.groupId).filter((id) => id.startsWith(`${prefix}.`));
    if (!ids.length) return 0;
    const described = await admin.describeGroups(ids);
    return described.groups.flatMap((g) => g.members).filter((m) => m.clientId === `${prefix}.${name}`).length;
  }

  /** Contacts created through the gateway until stopped: crm's events keep every consumer busy. */
  function load() {
    let running = true;
    const answers: (string | undefined)[] = [];
    const done = (async () => {
      const { session } = await signUp(platform.url, 'load');
      while (running) {
        const created = await gql(
          platform.url,
          CREATE_CONTACT,
          { input: { email: uniqueEmail('load') } },
          { token: session.accessToken },
        );
        answers.push(created.data?.createContact?.__typename ?? created.errors?.[0]?.extensions?.code);
      }
    })();
    return {
      answers,
      stop: async () => {
        running = false;
        await done;
      },
    };
  }

  for (const [name, consumes] of [
    ['delivery-engine', true],
    ['journey-executor', true],
    ['campaign-sender', false],
    ['delivery', true],
    ['crm', true],
  ] as const)
    it(`${name} finishes its work, leaves its consumer groups and exits 0`, async () => {
      const running = load();
      try {
        await expect.poll(() => running.answers.length, { timeout: 10_000 }).toBeGreaterThan(3);
        if (consumes) expect(await memberships(name)).toBeGreaterThan(0);
        const started = Date.now();
        expect(await platform.processes![name]!.terminate()).toBe(0);
        expect(Date.now() - started).toBeLessThan(15_000);
        // Left, not timed out: the group hands its partitions on now, not after the session timeout (30 s).
        expect(await memberships(name)).toBe(0);
      } finally {
        await running.stop();
      }
      // Requests in flight when crm stopped were answered; later ones name it as unavailable. None was cut.
      const unexpected = running.answers.filter((a) => a !== 'Contact' && a !== 'SUBGRAPH_UNAVAILABLE');
      expect(unexpected).toEqual([]);
      expect(running.answers).toContain('Contact');
    });

  it('the gateway finishes the request it is serving, then exits 0', async () => {
    const metricsUrl = platform.url.replace('/graphql', '/metrics');
    const graphqlInFlight = async () => {
      const text = await (await fetch(metricsUrl)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('mauntic_http_requests_in_flight{') && l.includes('route="/graphql"'));
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    // Sign-up hashes a password with argon2id, so it stays in flight long enough to be seen.
    let inFlight: Promise<{ session: Record<string, any> }> | undefined;
    let exitCode: Promise<number | null> | undefined;
    for (let attempt = 0; attempt < 20 && !exitCode; attempt++) {
      let done = false;
      inFlight = signUp(platform.url, `draining-${attempt}`).finally(() => {
        done = true;
      });
      while (!done && !exitCode) {
        if ((await graphqlInFlight()) > 0) exitCode = platform.processes!.gateway!.terminate();
      }
      if (!exitCode) await inFlight;
    }
    expect(exitCode).toBeDefined();
    const { session } = await inFlight!;
    expect(session.user.email).toMatch(/^draining-/);
    expect(await exitCode).toBe(0);
  });
});
