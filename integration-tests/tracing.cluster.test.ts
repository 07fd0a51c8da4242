// One trace from a client's mutation to the email it caused, across processes: the gateway, the
// delivery subgraph, its outbox, Kafka and the delivery engine, each exporting its spans over
// OTLP/HTTP (http/json) to a receiver this test runs.
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, MJML, smtpMailbox } from './delivery-suite.ts';
import { gql, type Platform, startClusterPlatform, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';
import { journeyAndCampaignTraces } from './tracing-suite.ts';

const CREATE_CONTACT = `mutation($input: ContactInput!) { createContact(input: $input) {
  __typename ... on Contact { id } ... on Error { code message } } }`;
const CREATE_TEMPLATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) {
  __typename ... on Template { id } ... on Error { code message } } }`;
const PREVIEW = `query($t: ID!, $c: ID) { previewTemplate(templateId: $t, contactId: $c) { subject } }`;
const SEND_EMAIL = `mutation($input: SendMessageInput!) { sendEmail(input: $input) {
  __typename ... on Message { id status } ... on Error { code message } } }`;
const MESSAGE = `query($id: ID!) { message(id: $id) { id status error } }`;

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

describe('tracing (cluster)', () => {
  let receiver: OtlpReceiver;
  let mailbox: Awaited<ReturnType<typeof smtpMailbox>>;
  let platform: Platform;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    mailbox = await smtpMailbox();
    platform = await startClusterPlatform(
      {
        OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // Export within a fifth of a second rather than the default five.
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      { deliveryEngine: true, journeyExecutor: true, campaignSender: true },
    );
  });
  afterAll(async () => {
    await platform?.stop();
    await mailbox?.close();
    await receiver?.close();
  });

  it('follows sendEmail from the gateway through the outbox and Kafka to the engine sending it', async () => {
    const { session } = await signUp(platform.url, 'trace');
    const call = (query: string, variables: Record<string, unknown> = {}) =>
      gql(platform.url, query, variables, { token: session.accessToken });
    await mailbox.setUp(call);
    const email = uniqueEmail('trace');
    const contact = await call(CREATE_CONTACT, { input: { email, firstName: 'Ada' } });
    const contactId: string = contact.data!.createContact.id;
    const template = await call(CREATE_TEMPLATE, {
      input: {
        name: 'traced',
        channel: 'EMAIL',
        source: { mjml: MJML, subject: 'Traced', fromAddress: 'shop@shop.example.com' },
      },
    });
    const templateId: string = template.data!.createTemplate.id;
    await eventually('delivery knows the contact', async () => {
      const preview = await call(PREVIEW, { t: templateId, c: contactId });
      return preview.data?.previewTemplate ?? undefined;
    });

    const sent = await call(SEND_EMAIL, {
      input: { templateId, contactId, context: { order: 'T-1' }, idempotencyKey: 'traced-1' },
    });
    expect(sent.data?.sendEmail).toMatchObject({ __typename: 'Message', status: 'QUEUED' });
    const messageId: string = sent.data!.sendEmail.id;
    await eventually('the message sent', async () => {
      const message = (await call(MESSAGE, { id: messageId })).data?.message;
      if (message?.status === 'FAILED') throw new Error(`message failed: ${message.error}`);
      return message?.status === 'SENT' ? message : undefined;
    });
    expect(await mailbox.received(email.toLowerCase(), session.accessToken)).toHaveLength(1);

    // The engine's send span, then every span of its trace, each process's as it exports them.
    const send = await eventually('the send span exported', async () =>
      receiver.spans.find((s) => s.name === 'send email' && s.attributes['mauntic.message.id'] === messageId),
    );
    const trace = () => receiver.spans.filter((s) => s.traceId === send.traceId);
    const byId = (id: string) => trace().find((s) => s.spanId === id);
    const consume = await eventually('the engine consuming the queued event', async () =>
      trace().find(
        (s) =>
          s.kind === CONSUMER &&
          s.service === 'delivery-engine' &&
          s.attributes['mauntic.event.type'] === 'delivery.message.queued',
      ),
    );
    const root = await eventually('the gateway request span exported', async () =>
      trace().find((s) => s.parentSpanId === '' && s.service === 'gateway'),
    );

    // The chain, parent by parent: every span is one the process that made it exported. Between
    // the request and the subgraph fetch, @apollo/gateway adds its own (gateway.request, .execute,
    // .fetch...): left out here, they are Apollo's, not ours.
    const chain = (span: ReceivedSpan): ReceivedSpan[] => {
      const parent = byId(span.parentSpanId);
      return parent ? [...chain(parent), span] : [span];
    };
    const names = (spans: ReceivedSpan[]) =>
      spans.filter((s) => !s.name.startsWith('gateway.')).map((s) => `${s.service}: ${s.name}`);
    expect(root).toMatchObject({ name: 'POST /graphql', kind: SERVER });

    // The send: in the trace of the request that queued the message.
    expect(send).toMatchObject({ service: 'delivery-engine', kind: CLIENT, attributes: { 'mauntic.outcome': 'sent' } });
    const request = ['gateway: POST /graphql', 'gateway: subgraph delivery', 'delivery: POST /graphql'];
    expect(names(chain(send))).toEqual([...request, 'delivery-engine: send email']);
    expect(byId(send.parentSpanId)).toMatchObject({ service: 'delivery', kind: SERVER });
    expect(chain(send).find((s) => s.name === 'subgraph delivery')).toMatchObject({ kind: CLIENT });

    // The Kafka hop: the outbox write, the relay's publish (its context in the message headers),
    // and the engine's consumer span, in the same trace.
    expect(names(chain(consume))).toEqual([
      ...request,
      'delivery: outbox append delivery',
      expect.stringMatching(/^delivery: publish .*\.delivery\.events$/),
      expect.stringMatching(/^delivery-engine: process .*\.delivery\.events$/),
    ]);
    const publish = byId(consume.parentSpanId)!;
    expect(publish).toMatchObject({ kind: PRODUCER, attributes: { 'messaging.system': 'kafka' } });
    expect(consume.attributes['messaging.consumer.group.name']).toBe('delivery-engine');
  });

  journeyAndCampaignTraces({
    platform: () => platform,
    receiver: () => receiver,
    mailbox: () => mailbox,
    label: (span) => `${span.service}: ${span.name}`,
  });
});
