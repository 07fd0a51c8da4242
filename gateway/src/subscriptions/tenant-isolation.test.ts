// The tenant-isolation matrix of the Subscription type: every field of schema/subscriptions.graphql,
// subscribed to by organization B with organization A's ids (and resuming after one of A's events),
// over the real local bus and the hub both modes share. B must receive none of A's events, live or
// replayed, while A's own subscriber with the same arguments receives every one of them (so a case
// that streams nothing at all cannot pass). A Subscription field without a case fails the coverage test.
import { readFileSync } from 'node:fs';
import { catalogueEntries, createEvent, type EventEnvelope, newId, type OrganizationId } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { GraphQLError, Kind, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIVERY_OUTCOMES, ROOT_FIELDS } from './fields.ts';
import { type Connection, type EventResult, SubscriptionHub } from './hub.ts';
import { SUBSCRIPTIONS_SDL_PATH } from './service.ts';
import { LocalEventSource } from './sources.ts';

const logger = createLogger('test', 'silent');

/** Organization A's entities, whose ids B passes as arguments. */
interface Fixtures {
  organizationId: OrganizationId;
  contact: string;
  segment: string;
  template: string;
  journey: string;
  campaign: string;
  importId: string;
  source: string;
}

interface Case {
  /** The arguments both subscribers pass: A's ids wherever the field takes one. */
  args: (a: Fixtures) => Record<string, unknown>;
  /** The subject of A's events. */
  subject: (a: Fixtures) => string;
  /** Their data (what the field's arguments are matched against). */
  data: (a: Fixtures) => Record<string, unknown>;
}

const snapshot = {
  email: 'a@example.com',
  firstName: 'A',
  lastName: null,
  phone: null,
  timezone: null,
  locale: null,
  ownerId: null,
  stageId: null,
  points: 0,
  tags: [],
  fields: {},
};
const contactCase: Case = {
  args: () => ({}),
  subject: (a) => a.contact,
  data: () => ({ contact: snapshot, changed: ['email'], erased: false }),
};
const segmentCase: Case = {
  args: (a) => ({ segmentId: a.segment }),
  subject: (a) => a.contact,
  data: (a) => ({ segmentId: a.segment }),
};
const deliveryCase: Case = {
  args: (a) => ({ filter: { templateId: a.template, sourceKind: 'CAMPAIGN', sourceId: a.campaign } }),
  subject: (a) => a.contact,
  data: (a) => ({
    messageId: newId(),
    contactId: a.contact,
    channel: 'email',
    address: 'a@example.com',
    templateId: a.template,
    source: { kind: 'campaign', id: a.campaign, stepId: null },
    machine: false,
    url: 'https://example.com/',
    bounceType: 'hard',
    reason: 'mailbox unknown',
    feedbackType: 'abuse',
    oneClick: true,
    detail: null,
  }),
};
const journeyCase: Case = {
  args: (a) => ({ journeyId: a.journey }),
  subject: (a) => a.contact,
  data: (a) => ({
    runId: newId(),
    journeyId: a.journey,
    versionId: newId(),
    version: 1,
    trigger: 'api',
    stepId: 'step-1',
    stepType: 'wait',
    visit: 1,
    status: 'completed',
    outcome: {},
  }),
};

const CASES: Record<string, Case> = {
  contactCreated: contactCase,
  contactUpdated: contactCase,
  contactDeleted: contactCase,
  contactMerged: { ...contactCase, data: (a) => ({ winnerId: a.contact, loserId: newId() }) },
  segmentEntered: segmentCase,
  segmentExited: segmentCase,
  messageSent: deliveryCase,
  messageDelivered: deliveryCase,
  messageOpened: deliveryCase,
  messageClicked: deliveryCase,
  messageBounced: deliveryCase,
  messageComplained: deliveryCase,
  messageUnsubscribed: deliveryCase,
  messageFailed: deliveryCase,
  deliveryOutcomes: {
    ...deliveryCase,
    args: (a) => ({ ...deliveryCase.args(a), outcomes: Object.keys(DELIVERY_OUTCOMES) }),
  },
  journeyRunStarted: journeyCase,
  journeyStepCompleted: journeyCase,
  journeyRunCompleted: journeyCase,
  campaignProgress: {
    args: (a) => ({ campaignId: a.campaign }),
    subject: (a) => a.campaign,
    data: () => ({
      name: 'Spring sale',
      channel: 'email',
      recipients: 10,
      requested: 5,
      skipped: 0,
      variant: 'A',
      decidedBy: 'opens',
      scores: { A: 1 },
    }),
  },
  importProgress: {
    args: (a) => ({ importId: a.importId }),
    subject: (a) => a.importId,
    data: () => ({
      rowsDone: 1,
      rowsFailed: 0,
      rowsCreated: 1,
      rowsUpdated: 0,
      percent: 50,
      status: 'completed',
      error: null,
    }),
  },
};

/** The Subscription type's fields, read from the SDL the gateway merges into the API schema. */
function subscriptionFields(): string[] {
  const document = parse(readFileSync(SUBSCRIPTIONS_SDL_PATH, 'utf8'));
  return document.definitions.flatMap((d) =>
    (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) && d.name.value === 'Subscription'
      ? (d.fields ?? []).map((f) => f.name.value)
      : [],
  );
}

const fixtures = (): Fixtures => ({
  organizationId: newId() as OrganizationId,
  contact: newId(),
  segment: newId(),
  template: newId(),
  journey: newId(),
  campaign: newId(),
  importId: newId(),
  source: newId(),
});

/** An event of `type` as its context would publish it, from the catalogue (which keeps the data its type has). */
function eventOf(
  type: string,
  organizationId: string,
  subjectId: string,
  data: Record<string, unknown>,
): EventEnvelope {
  const definition = catalogueEntries().find((d) => d.type === type);
  if (!definition) throw new Error(`${type} is not in the catalogue`);
  return createEvent(definition, { organizationId, subjectId, correlationId: 'isolation', data });
}

function connectionOf(organizationId: OrganizationId): Connection {
  return {
    caller: { correlationId: 'isolation', actor: { type: 'user', id: newId() }, organizationId, scopes: ['*:read'] },
    open: 0,
    close: () => {},
  };
}

/** What a subscription yields within `ms`, or its first `count` (its generator is ended afterwards). */
async function drain(results: AsyncGenerator<EventResult>, ms: number, count = Number.POSITIVE_INFINITY) {
  const ids: string[] = [];
  const deadline = Date.now() + ms;
  while (ids.length < count) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const next = await Promise.race([
      results.next(),
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), left)),
    ]);
    if (next === 'timeout' || next.done) break;
    ids.push(next.value.id);
  }
  void results.return(undefined);
  return ids;
}

describe('subscriptions: tenant-isolation matrix', () => {
  let bus: LocalEventBus;
  let hub: SubscriptionHub;
  beforeAll(async () => {
    bus = new LocalEventBus({ logger });
    hub = new SubscriptionHub(
      new LocalEventSource(bus, 3_600_000, 10_000),
      {
        perConnection: 100,
        perOrganization: 100,
        queue: 100,
      },
      logger,
    );
    await hub.start();
    await bus.start();
  });
  afterAll(async () => {
    await hub?.stop();
    await bus?.stop();
  });

  it('has a case for every Subscription field of the schema, and a field behind each', () => {
    const fields = subscriptionFields();
    expect(fields.length).toBeGreaterThan(0);
    expect(Object.keys(CASES).sort()).toEqual([...fields].sort());
    expect(Object.keys(ROOT_FIELDS).sort()).toEqual([...fields].sort());
  });

  it.each(Object.keys(CASES))(
    "%s: B, with A's ids and resuming after A's event, receives none of A's events",
    async (name) => {
      const c = CASES[name]!;
      const field = ROOT_FIELDS[name]!;
      const a = fixtures();
      const b = fixtures();
      const run = async (event: EventEnvelope) => ({ data: { [name]: { id: event.id } } });
      const make = () => field.types.map((type) => eventOf(type, a.organizationId, c.subject(a), c.data(a)));
      // A's event B resumes after (an id B could have learnt), and the ones B could replay.
      const [mark, ...earlier] = make().concat(make());
      await bus.publish([mark!, ...earlier]);

      const open = async (organizationId: OrganizationId, after?: string) => {
        const results = await hub.subscribe(connectionOf(organizationId), field, c.args(a), after, run);
        if (results instanceof GraphQLError) throw results;
        return results;
      };
      const mine = await open(a.organizationId, mark!.id);
      const theirs = await open(b.organizationId, mark!.id);
      const theirsLive = await open(b.organizationId);
      const live = make();
      await bus.publish(live);

      const expected = [...earlier, ...live].map((e) => e.id);
      expect(await drain(mine, 5_000, expected.length)).toEqual(expected);
      expect(await drain(theirs, 200)).toEqual([]);
      expect(await drain(theirsLive, 200)).toEqual([]);
    },
  );
});
