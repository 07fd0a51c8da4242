// Embedded mode traces the same path in one process: the gateway's request, its in-process call of
// the delivery subgraph, the outbox, the local bus and the engine's send, exported over OTLP/HTTP
// (http/json) to a receiver this test runs.
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, MJML, outboxList, outboxMailbox } from './delivery-suite.ts';
import { gql, type Platform, startEmbeddedPlatform, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';
import { journeyAndCampaignTraces } from './tracing-suite.ts';

describe('tracing (embedded)', () => {
  let receiver: OtlpReceiver;
  let platform: Platform;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    // The SDK reads process.env; the embedded process is this one.
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', receiver.url);
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    vi.stubEnv('OTEL_BSP_SCHEDULE_DELAY', '200');
    platform = await startEmbeddedPlatform();
  });
  afterAll(async () => {
    await platform?.stop();
    await receiver?.close();
    vi.unstubAllEnvs();
  });

  it('follows sendEmail from the gateway through the outbox and the local bus to the send', async () => {
    const { session } = await signUp(platform.url, 'trace');
    const call = (query: string, variables: Record<string, unknown> = {}) =>
      gql(platform.url, query, variables, { token: session.accessToken });
    const template = await call(
      `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { ... on Template { id } } }`,
      {
        input: {
          name: 'traced',
          channel: 'EMAIL',
          category: 'TRANSACTIONAL',
          source: { mjml: MJML, subject: 'Traced', fromAddress: 'shop@shop.example.com' },
        },
      },
    );
    const to = uniqueEmail('traced');
    const sent = await call(
      `mutation($input: SendMessageInput!) { sendEmail(input: $input) { __typename ... on Message { id } } }`,
      { input: { templateId: template.data!.createTemplate.id, to, context: { order: 'E-1' }, idempotencyKey: 'e-1' } },
    );
    expect(sent.data?.sendEmail.__typename).toBe('Message');
    const messageId: string = sent.data!.sendEmail.id;
    await eventually('the email in the local outbox', async () =>
      (await outboxList(platform.publicUrl, session.accessToken)).find((e) => e.to === to),
    );

    const send = await eventually('the send span exported', async () =>
      receiver.spans.find((s) => s.name === 'send email' && s.attributes['mauntic.message.id'] === messageId),
    );
    const trace = () => receiver.spans.filter((s) => s.traceId === send.traceId);
    const byId = (id: string) => trace().find((s) => s.spanId === id);
    const chain = (span: ReceivedSpan): ReceivedSpan[] => {
      const parent = byId(span.parentSpanId);
      return parent ? [...chain(parent), span] : [span];
    };
    // @apollo/gateway's own spans (gateway.request, .execute, .fetch...) are left out: Apollo's, not ours.
    const names = (spans: ReceivedSpan[]) => spans.map((s) => s.name).filter((name) => !name.startsWith('gateway.'));
    const consume = await eventually('the engine handling the queued event', async () =>
      trace().find(
        (s) => s.name.startsWith('process ') && s.attributes['messaging.consumer.group.name'] === 'delivery-engine',
      ),
    );
    await eventually('the request span exported', async () => trace().find((s) => s.parentSpanId === ''));

    expect(send.service).toBe('mauntic');
    expect(names(chain(send))).toEqual(['POST /graphql', 'subgraph delivery', 'send email']);
    expect(names(chain(consume))).toEqual([
      'POST /graphql',
      'subgraph delivery',
      'outbox append delivery',
      'process mauntic.delivery.events',
    ]);
  });

  journeyAndCampaignTraces({
    platform: () => platform,
    receiver: () => receiver,
    mailbox: () => outboxMailbox(() => platform),
    label: (span) => span.name,
  });
});
