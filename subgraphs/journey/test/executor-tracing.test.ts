// Tracing on, on Postgres and PGlite: a run keeps the trace of the work that entered it, and its
// events carry it, across a delay woken set-based: journey.run.started, the delay's
// journey.step.completed, and the send request the walk after it writes, whose parent is that
// walk's `walk journey run` span. A run entered outside any trace carries none (the envelopes
// still parse). The integration tests (tracing.*.test.ts) follow the same into delivery's send.
import { catalogue, type EventEnvelope, eventEnvelopeSchema, newId } from '@mauntic/kernel';
import { inSpan, SpanKind, traceparentOf } from '@mauntic/platform';
import { eventually, type OtlpReceiver, traceToReceiver } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollSegment } from '../src/app/enrollment.ts';
import {
  addContact,
  HOUR,
  type Kind,
  logger,
  newOrg,
  openExecutorDatabase,
  outboxEvents,
  publish,
  testClock,
  testExecutor,
} from './fixtures/executor-harness.ts';

const TEMPLATE = '0190a000-0000-7000-8000-000000000001';

const delayThenMail = {
  entry: [{ type: 'api' }],
  start: 'wait',
  steps: {
    wait: { type: 'delay', wait: { duration: '1 hour' }, next: 'mail' },
    mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'end' },
    end: { type: 'exit' },
  },
  settings: { entryRule: { kind: 'everyTime' } },
};

let receiver: OtlpReceiver;
let stopTracing: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ receiver, stop: stopTracing } = await traceToReceiver('journey-executor-test'));
});
afterAll(() => stopTracing?.());

describe.each(['postgres', 'pglite'] as Kind[])('traces through the journey executor on %s', (kind) => {
  let db: Awaited<ReturnType<typeof openExecutorDatabase>>;
  beforeAll(async () => {
    db = await openExecutorDatabase(kind);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('a run keeps the trace that entered it: its start, its delay woken later, and the send after it', async () => {
    const clock = testClock();
    const ctx = newOrg();
    const org = ctx.organizationId;
    const [traced, untraced] = [newId(), newId()];
    const journey = await publish(db.handle, org, delayThenMail);
    const tracedContact = await addContact(db.handle, org, { segments: [traced] });
    const untracedContact = await addContact(db.handle, org, { segments: [untraced] });
    const deps = { handle: db.handle, logger, now: clock.now };
    // One enrollment in a request's trace, one outside any.
    let entered = '';
    await inSpan('POST /graphql', { kind: SpanKind.SERVER }, async () => {
      entered = traceparentOf()!;
      await enrollSegment(deps, ctx, { journeyId: journey.journeyId, segmentId: traced });
    });
    await enrollSegment(deps, ctx, { journeyId: journey.journeyId, segmentId: untraced });
    const [, traceId, requestSpan] = entered.split('-');

    // The walk parks both runs at their delay; an hour later the delays are woken set-based (the
    // test executor always wakes them so), then the walk requests the sends.
    const { drain } = testExecutor(db.handle, clock.now);
    await drain();
    clock.advance(HOUR);
    await drain();

    const events = async (type: string) => {
      const all = await outboxEvents(db.handle, org, type);
      for (const event of all) eventEnvelopeSchema.parse(event);
      const of = (contact: string) => all.filter((e: EventEnvelope<string, any>) => e.subject.id === contact);
      return { traced: of(tracedContact), untraced: of(untracedContact) };
    };
    const started = await events(catalogue.journey.runStarted.type);
    expect(started.traced.map((e) => e.traceparent)).toEqual([entered]);
    expect(started.untraced.map((e) => e.traceparent)).toEqual([undefined]);
    const delays = await events(catalogue.journey.stepCompleted.type);
    const woken = (list: EventEnvelope<string, any>[]) => list.filter((e) => e.data.stepId === 'wait');
    expect(woken(delays.traced).map((e) => e.traceparent)).toEqual([entered]);
    expect(woken(delays.untraced).map((e) => e.traceparent)).toEqual([undefined]);
    const requests = await events(catalogue.delivery.messageRequested.type);
    expect(requests.untraced.map((e) => e.traceparent)).toEqual([undefined]);
    expect(requests.traced).toHaveLength(1);
    const [, requestTrace, walkSpan] = requests.traced[0]!.traceparent!.split('-');
    expect(requestTrace).toBe(traceId);

    // The request's parent: the walk that sent it, a child of the enrolling request.
    const walk = await eventually('the walk span exported', async () =>
      receiver.spans.find((s) => s.spanId === walkSpan),
    );
    expect(walk).toMatchObject({
      name: 'walk journey run',
      traceId,
      parentSpanId: requestSpan,
      attributes: { 'mauntic.journey.id': journey.journeyId, 'mauntic.step.id': 'mail', 'mauntic.outcome': 'exited' },
    });
    // Runs entered outside a trace are walked without spans: two walks of the traced run only
    // (the one that parked it, the one that sent).
    const walks = await eventually('both walks exported', async () => {
      const found = receiver.spans.filter(
        (s) => s.name === 'walk journey run' && s.attributes['mauntic.journey.id'] === journey.journeyId,
      );
      return found.length === 2 ? found : undefined;
    });
    expect(walks.every((s) => s.traceId === traceId)).toBe(true);
  });
});
