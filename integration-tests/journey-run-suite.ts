// One journey walked end to end through the gateway, as a client and a recipient meet it: a
// contact joins a segment in CRM -> the journey sends an email through delivery -> it waits for
// the email to be opened (at most a day) -> a split -> a second email. Embedded mode reads the
// mail in /outbox; cluster mode at a real SMTP server, with the executor as its own process.
// Publishing checks the definition against the journey context's copies of CRM's segments and
// delivery's templates, which their events keep: it is retried until they have arrived.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  __typename ... on Journey { status } ... on JourneyValidationError { issues { stepId code message } } ... on Error { code message } } }`;
const RUNS = `query($j: ID) { journeyRuns(filter: { journeyId: $j }, first: 5) {
  edges { node { state stepId steps { stepId status outcome } } } } }`;

/** A mail client opening the message: it loads the tracking image. */
const MAIL_CLIENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0';

export function journeyRunSuite(
  name: string,
  start: () => Promise<Platform>,
  openMailbox: (p: () => Platform) => Promise<Mailbox>,
) {
  describe(`a journey walked through the gateway (${name})`, () => {
    let platform: Platform;
    let mailbox: Mailbox;
    beforeAll(async () => {
      platform = await start();
      mailbox = await openMailbox(() => platform);
    });
    afterAll(async () => {
      await mailbox?.close();
      await platform?.stop();
    });

    it('segment joined -> email -> opened within a day -> split -> second email', async () => {
      const { session } = await signUp(platform.url, 'journeys');
      const call = async (query: string, variables: Record<string, unknown> = {}) => {
        const result = await gql(platform.url, query, variables, { token: session.accessToken });
        expect(result.errors).toBeUndefined();
        return result.data!;
      };
      await mailbox.setUp((query, variables) =>
        gql(platform.url, query, variables ?? {}, { token: session.accessToken }),
      );
      const template = async (subject: string) =>
        (
          await call(CREATE_TEMPLATE, {
            input: {
              name: subject,
              channel: 'EMAIL',
              category: 'MARKETING',
              source: { mjml: MJML, subject, fromAddress: 'hello@shop.example.com' },
            },
          })
        ).createTemplate.id as string;
      const welcome = await template('Welcome aboard');
      const followUp = await template('Since you opened it');

      const to = uniqueEmail('walker');
      const contact = (await call(CREATE_CONTACT, { input: { email: to, firstName: 'Walker' } })).createContact.id;
      const segment = (await call(CREATE_SEGMENT, { input: { name: 'walkers', kind: 'STATIC' } })).createSegment.id;
      const journey = (
        await call(CREATE_JOURNEY, {
          input: {
            name: 'Welcome walk',
            definition: {
              entry: [{ type: 'segmentEntered', segmentId: segment }],
              start: 'welcome',
              steps: {
                welcome: {
                  type: 'send',
                  channel: 'email',
                  templateId: welcome,
                  context: { order: 'W-1' },
                  next: 'opened',
                },
                opened: {
                  type: 'waitFor',
                  event: { kind: 'opened', step: 'welcome' },
                  timeout: '1 day',
                  onEvent: 'split',
                  onTimeout: 'end',
                },
                split: {
                  type: 'split',
                  branches: [
                    { weight: 100, next: 'more' },
                    { weight: 0, next: null },
                  ],
                },
                more: { type: 'send', channel: 'email', templateId: followUp, context: { order: 'W-2' }, next: 'end' },
                end: { type: 'exit' },
              },
              settings: { entryRule: { kind: 'once' } },
            },
          },
        })
      ).createJourney.id as string;
      // Until the segment's and the templates' events have reached the journey context, it names them unknown.
      await eventually('the journey to publish', async () => {
        const published = (await call(PUBLISH, { input: { id: journey } })).publishJourney;
        return published.__typename === 'Journey' ? published : undefined;
      });

      expect(
        (await call(ADD_TO_SEGMENT, { input: { segmentId: segment, contactIds: [contact] } })).addToSegment.__typename,
      ).toBe('Segment');
      const first = await eventually(
        'the first email',
        async () => {
          const mail = await mailbox.received(to, session.accessToken);
          return mail.length ? mail : undefined;
        },
        { timeoutMs: 60_000 },
      );
      expect(first.map((m) => m.subject)).toEqual(['Welcome aboard']);
      const runs = async () => (await call(RUNS, { j: journey })).journeyRuns.edges.map((e: any) => e.node);
      await eventually('the run to wait for the open', async () => {
        const [run] = await runs();
        return run?.state === 'WAITING' && run.stepId === 'opened' ? run : undefined;
      });

      const pixel = /<img[^>]+src="([^"]+\/t\/open\?t=[\w.-]+)"/.exec(first[0]!.html)?.[1];
      expect(pixel).toBeDefined();
      const opened = await fetch(pixel!.replace(/^https?:\/\/[^/]+/, platform.publicUrl), {
        headers: { 'user-agent': MAIL_CLIENT },
      });
      expect(opened.status).toBe(200);

      const both = await eventually(
        'the second email',
        async () => {
          const mail = await mailbox.received(to, session.accessToken);
          return mail.length === 2 ? mail : undefined;
        },
        { timeoutMs: 60_000 },
      );
      expect(both.map((m) => m.subject).sort()).toEqual(['Since you opened it', 'Welcome aboard']);
      const [run] = await eventually('the run to end', async () => {
        const all = await runs();
        return all[0]?.state === 'EXITED' ? all : undefined;
      });
      expect(run.stepId).toBe('end');
      expect(run.steps.map((s: any) => [s.stepId, s.status])).toEqual([
        ['welcome', 'COMPLETED'],
        ['opened', 'COMPLETED'],
        ['split', 'COMPLETED'],
        ['more', 'COMPLETED'],
        ['end', 'COMPLETED'],
      ]);
      expect(run.steps[1].outcome).toMatchObject({ event: 'matched' });
      // Each send step records what delivery did with its request.
      await eventually('both sends recorded as sent', async () => {
        const [walked] = await runs();
        const sends = walked.steps.filter((s: any) => s.stepId === 'welcome' || s.stepId === 'more');
        return sends.every((s: any) => s.outcome.delivery === 'sent') ? sends : undefined;
      });
    });
  });
}
