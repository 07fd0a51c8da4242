// The traces of work that goes through the journey executor and the campaign fan-out, in both
// modes: a contact change that enters a journey, which waits, then sends (the send in the trace of
// the change, the run's trace kept across the wait); a campaign launch whose fan-out sends to each
// member (every send in the launch's trace, under one span per batch handed over).
import type { OtlpReceiver, ReceivedSpan } from '@mauntic/platform/testing';
import { expect, it } from 'vitest';
import { eventually, type Mailbox, MJML } from './delivery-suite.ts';
import { gql, type Platform, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';

const CREATE_TEMPLATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename ... on Template { id } } }`;
const CREATE_CONTACT = `mutation($input: ContactInput!) { createContact(input: $input) { __typename ... on Contact { id } } }`;
const CREATE_SEGMENT = `mutation($input: CreateSegmentInput!) { createSegment(input: $input) { __typename ... on Segment { id } } }`;
const ADD_TO_SEGMENT = `mutation($input: AddToSegmentInput!) { addToSegment(input: $input) { __typename ... on Error { code message } } }`;
const CREATE_JOURNEY = `mutation($input: CreateJourneyInput!) { createJourney(input: $input) {
  __typename ... on Journey { id } ... on Error { code message } } }`;
const PUBLISH = `mutation($input: PublishJourneyInput!) { publishJourney(input: $input) {
  __typename ... on JourneyValidationError { issues { stepId code message } } ... on Error { code message } } }`;
const CREATE_CAMPAIGN = `mutation($input: CreateCampaignInput!) { createCampaign(input: $input) {
  __typename ... on Campaign { id } ... on Error { code message } } }`;
const CAMPAIGN = `query($id: ID!) { campaign(id: $id) { status audienceCount } }`;
const LAUNCH = `mutation($id: ID!) { launchCampaign(input: { id: $id }) { __typename } }`;

export interface TraceSetting {
  platform: () => Platform;
  receiver: () => OtlpReceiver;
  mailbox: () => Mailbox;
  /** How a span reads in an expected chain: `service: name` in cluster mode, the name alone embedded. */
  label: (span: ReceivedSpan) => string;
}

export function journeyAndCampaignTraces({ platform, receiver, mailbox, label }: TraceSetting) {
  const setUp = async (slug: string) => {
    const { session } = await signUp(platform().url, slug);
    const call = async (query: string, variables: Record<string, unknown> = {}) => {
      const result = await gql(platform().url, query, variables, { token: session.accessToken });
      expect(result.errors).toBeUndefined();
      return result.data!;
    };
    await mailbox().setUp((query, variables) =>
      gql(platform().url, query, variables ?? {}, { token: session.accessToken }),
    );
    const template = (
      await call(CREATE_TEMPLATE, {
        input: {
          name: slug,
          channel: 'EMAIL',
          category: 'MARKETING',
          source: { mjml: MJML, subject: slug, fromAddress: 'hello@shop.example.com' },
        },
      })
    ).createTemplate.id as string;
    const segment = (await call(CREATE_SEGMENT, { input: { name: slug, kind: 'STATIC' } })).createSegment.id as string;
    return { session, call, template, segment };
  };
  /** The spans of a trace, and a span's ancestry from its root, each process's as it exports them. */
  const traceOf = (traceId: string) => {
    const spans = () => receiver().spans.filter((s) => s.traceId === traceId);
    const chain = (span: ReceivedSpan): ReceivedSpan[] => {
      const parent = spans().find((s) => s.spanId === span.parentSpanId);
      return parent ? [...chain(parent), span] : [span];
    };
    // @apollo/gateway's own spans (gateway.request, .execute, .fetch...) are left out: Apollo's, not ours.
    const names = (span: ReceivedSpan) =>
      chain(span)
        .filter((s) => !s.name.startsWith('gateway.'))
        .map(label);
    return { spans, chain, names };
  };

  it('follows a contact change into a journey, across its delay, to the email it sends', async () => {
    const { session, call, template, segment } = await setUp('journey-trace');
    const to = uniqueEmail('journey-trace');
    const contact = (await call(CREATE_CONTACT, { input: { email: to, firstName: 'Tracy' } })).createContact.id;
    const journey = (
      await call(CREATE_JOURNEY, {
        input: {
          name: 'Traced walk',
          definition: {
            entry: [{ type: 'segmentEntered', segmentId: segment }],
            start: 'pause',
            steps: {
              pause: { type: 'delay', wait: { duration: '2 seconds' }, next: 'hello' },
              hello: { type: 'send', channel: 'email', templateId: template, next: 'end' },
              end: { type: 'exit' },
            },
            settings: { entryRule: { kind: 'once' } },
          },
        },
      })
    ).createJourney.id as string;
    // Until the segment's and the template's events have reached the journey context, it names them unknown.
    await eventually('the journey to publish', async () => {
      const published = (await call(PUBLISH, { input: { id: journey } })).publishJourney;
      if (published.__typename !== 'Journey') throw new Error(JSON.stringify(published));
      return published;
    });

    // The contact change: a request through the gateway.
    expect(
      (await call(ADD_TO_SEGMENT, { input: { segmentId: segment, contactIds: [contact] } })).addToSegment.__typename,
    ).toBe('Segment');
    await eventually('the journey email', async () =>
      (await mailbox().received(to, session.accessToken)).length ? true : undefined,
    );

    const send = await eventually('the send span exported', async () =>
      receiver().spans.find((s) => s.name === 'send email' && s.attributes['mauntic.source'] === 'journey'),
    );
    const trace = traceOf(send.traceId);
    const walks = await eventually('both walks of the run exported', async () => {
      const found = trace.spans().filter((s) => s.name === 'walk journey run');
      return found.length === 2 ? found : undefined;
    });
    const root = await eventually('the request span exported', async () =>
      trace.spans().find((s) => s.parentSpanId === ''),
    );
    // The trace begins at the contact change and ends at the send.
    expect(root.name).toBe('POST /graphql');
    expect(trace.chain(send)[0]).toBe(root);
    // The walk that parked the run at its delay, and the one that woke it and sent, 2 s later:
    // siblings, both children of the executor handling CRM's event.
    const [parked, woken] = walks.sort(
      (a, b) => Number(a.attributes['mauntic.steps']) - Number(b.attributes['mauntic.steps']),
    );
    expect(parked!.attributes).toMatchObject({
      'mauntic.step.id': 'pause',
      'mauntic.steps': 0,
      'mauntic.outcome': 'waiting',
    });
    expect(woken!.attributes).toMatchObject({
      'mauntic.step.id': 'pause',
      'mauntic.steps': 3,
      'mauntic.outcome': 'exited',
    });
    expect(walks.every((w) => w.attributes['mauntic.journey.id'] === journey)).toBe(true);
    expect(parked!.parentSpanId).toBe(woken!.parentSpanId);
    expect(trace.chain(send)).toContain(woken);
    expect(trace.names(send)).toEqual([
      expect.stringMatching(/POST \/graphql$/),
      expect.stringMatching(/subgraph crm$/),
      ...trace
        .names(send)
        .slice(2, -4)
        .map(() => expect.any(String)),
      expect.stringMatching(/process .*crm\.events$/),
      expect.stringMatching(/walk journey run$/),
      // Delivery takes send requests in batches: a batch continues the context its requests carry
      // (the span that wrote them), not the relay's publish span.
      expect.stringMatching(/process .*delivery\.events$/),
      expect.stringMatching(/send email$/),
    ]);
  });

  it('follows a campaign launch through its fan-out to every send', async () => {
    const { session, call, template, segment } = await setUp('campaign-trace');
    const people = [uniqueEmail('ct-ann'), uniqueEmail('ct-bob')];
    const ids: string[] = [];
    for (const email of people)
      ids.push((await call(CREATE_CONTACT, { input: { email, firstName: 'Reader' } })).createContact.id);
    await call(ADD_TO_SEGMENT, { input: { segmentId: segment, contactIds: ids } });
    const campaign = (
      await call(CREATE_CAMPAIGN, {
        input: {
          name: 'Traced',
          channel: 'EMAIL',
          variants: [{ key: 'A', templateId: template }],
          segmentIds: [segment],
        },
      })
    ).createCampaign.id as string;
    await eventually('the audience to arrive', async () =>
      (await call(CAMPAIGN, { id: campaign })).campaign.audienceCount === 2 ? true : undefined,
    );
    expect((await call(LAUNCH, { id: campaign })).launchCampaign.__typename).toBe('Campaign');
    for (const address of people)
      await eventually(`the email to ${address}`, async () =>
        (await mailbox().received(address, session.accessToken)).length ? true : undefined,
      );

    const handOver = await eventually('the hand-over span exported', async () =>
      receiver().spans.find((s) => s.name === 'hand over campaign' && s.attributes['mauntic.campaign.id'] === campaign),
    );
    const trace = traceOf(handOver.traceId);
    const sends = await eventually('both send spans exported', async () => {
      const found = trace.spans().filter((s) => s.name === 'send email');
      return found.length === 2 ? found : undefined;
    });
    const root = await eventually('the launch request span exported', async () =>
      trace.spans().find((s) => s.parentSpanId === ''),
    );
    expect(root.name).toBe('POST /graphql');
    // One batch handed both over: its span is the parent of both requests, each sent in the trace.
    expect(handOver.attributes['messaging.batch.message_count']).toBe(2);
    for (const send of sends) {
      expect(send.attributes['mauntic.source']).toBe('campaign');
      expect(trace.chain(send)[0]).toBe(root);
      expect(trace.chain(send)).toContain(handOver);
      expect(trace.names(send).slice(-3)).toEqual([
        expect.stringMatching(/hand over campaign$/),
        expect.stringMatching(/process .*delivery\.events$/),
        expect.stringMatching(/send email$/),
      ]);
    }
    // The launch request, then the sender's batch: the request's subgraph span is its parent.
    expect(trace.names(handOver)).toEqual([
      expect.stringMatching(/POST \/graphql$/),
      expect.stringMatching(/subgraph campaign$/),
      ...trace
        .names(handOver)
        .slice(2, -1)
        .map(() => expect.any(String)),
      expect.stringMatching(/hand over campaign$/),
    ]);
    expect(trace.spans().some((s) => s.name === 'start campaign')).toBe(true);
  });
}
