// The journeys' copy of what contacts did (behaviour conditions, lastActiveAt), kept from the
// events behind CRM's timeline: each event applied once however often it is delivered, a bare
// address found by its contact's email, merges and deletions followed, old rows aged out; and a
// condition on behaviour routing a run with the history a batch loads for it.
import { catalogue, createEvent, type EventEnvelope, newId } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVITY_RETENTION_DAYS, applyActivityEvent } from '../src/app/activity-projection.ts';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { loadContacts } from '../src/app/executor/contact-state.ts';
import { walkRun } from '../src/app/executor/walk.ts';
import { activities, lastActivity } from '../src/db/schema.ts';
import { publish } from './fixtures/executor-harness.ts';
import { crmContactCreated, DATABASES, type Journey, newOrg, openJourney } from './harness.ts';

const DAY = 86_400_000;
const NOW = new Date('2026-03-31T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const TEMPLATE = newId();
const d = catalogue.delivery;

const message = (contactId: string | null, address = 'someone@example.com') => ({
  messageId: newId(),
  contactId,
  channel: 'email' as const,
  address,
  templateId: TEMPLATE,
  source: { kind: 'journey' as const, id: null, stepId: null },
});

const clicked = (organizationId: string, contactId: string | null, at: Date, address?: string) =>
  createEvent(d.messageClicked, {
    organizationId,
    subjectId: contactId ?? newId(),
    correlationId: newId(),
    occurredAt: at,
    data: { ...message(contactId, address), url: 'https://x.com/offer', machine: false },
  });

const visited = (organizationId: string, contactId: string, at: Date, url = 'https://x.com/pricing') =>
  createEvent(catalogue.content.pageVisited, {
    organizationId,
    subjectId: contactId,
    correlationId: newId(),
    occurredAt: at,
    data: { contactId, url, referrer: null, pageId: null },
  });

describe.each(DATABASES)('the activity projection (%s)', (_name, open) => {
  let env: Journey;
  beforeAll(async () => {
    env = await openJourney(open, () => NOW);
  });
  afterAll(async () => {
    await env?.close();
  });

  const rowsOf = (contactId: string) =>
    env.handle.db.select().from(activities).where(eq(activities.contactId, contactId)).orderBy(activities.occurredAt);
  const lastOf = async (contactId: string) =>
    (await env.handle.db.select().from(lastActivity).where(eq(lastActivity.contactId, contactId)))[0]?.at ?? null;

  it('applies an event once however often it is delivered, through the bus as directly', async () => {
    const { organizationId } = newOrg();
    const contactId = newId();
    const event = clicked(organizationId, contactId, ago(DAY));
    const bus = new LocalEventBus({ logger: createLogger('journey-test', 'silent') });
    for (const subscription of env.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
    try {
      await bus.publish([event, event]);
      await expect.poll(async () => (await rowsOf(contactId)).length).toBe(1);
    } finally {
      await bus.stop();
    }
    expect(await applyActivityEvent(env.services.deps, event)).toBe(false);
    expect(await rowsOf(contactId)).toMatchObject([
      {
        id: event.id,
        organizationId,
        type: 'email.clicked',
        subject: TEMPLATE,
        properties: { messageId: event.data.messageId, url: 'https://x.com/offer' },
      },
    ]);
    expect(await lastOf(contactId)).toEqual(ago(DAY));
  });

  it('records what CRM records: machine opens apart, sends without moving lastActiveAt, a bare address by its email', async () => {
    const { organizationId } = newOrg();
    const contactId = newId();
    await applyCrmEvent(env.services.deps, crmContactCreated(organizationId, contactId, { email: 'Ann@Example.com' }));
    const opened = createEvent(d.messageOpened, {
      organizationId,
      subjectId: contactId,
      correlationId: newId(),
      occurredAt: ago(DAY),
      data: { ...message(contactId), machine: true },
    });
    const sent = createEvent(d.messageSent, {
      organizationId,
      subjectId: contactId,
      correlationId: newId(),
      occurredAt: ago(2 * DAY),
      data: message(contactId),
    });
    for (const event of [opened, sent, clicked(organizationId, null, ago(3 * DAY), 'ann@example.COM')])
      expect(await applyActivityEvent(env.services.deps, event)).toBe(true);
    expect((await rowsOf(contactId)).map((r) => r.type)).toEqual([
      'email.clicked',
      'email.sent',
      'email.opened.machine',
    ]);
    expect(await lastOf(contactId)).toEqual(ago(3 * DAY));
    // A bare address of another organization is no one's here.
    await applyActivityEvent(env.services.deps, clicked(newOrg().organizationId, null, ago(DAY), 'ann@example.com'));
    expect(await rowsOf(contactId)).toHaveLength(3);
  });

  it("a merge moves the loser's history to the winner; a deletion forgets it", async () => {
    const { organizationId } = newOrg();
    const [winner, loser] = [newId(), newId()];
    await applyActivityEvent(env.services.deps, visited(organizationId, winner, ago(5 * DAY)));
    await applyActivityEvent(env.services.deps, visited(organizationId, loser, ago(DAY)));
    const merged = createEvent(catalogue.crm.contactMerged, {
      organizationId,
      subjectId: winner,
      correlationId: newId(),
      data: { winnerId: winner, loserId: loser },
    });
    await applyActivityEvent(env.services.deps, merged);
    expect(await rowsOf(winner)).toHaveLength(2);
    expect(await lastOf(winner)).toEqual(ago(DAY));
    expect(await lastOf(loser)).toBeNull();
    const deleted = createEvent(catalogue.crm.contactDeleted, {
      organizationId,
      subjectId: winner,
      correlationId: newId(),
      data: { erased: true },
    });
    await applyActivityEvent(env.services.deps, deleted);
    expect(await rowsOf(winner)).toEqual([]);
    expect(await lastOf(winner)).toBeNull();
  });

  it(`a contact's activity of a type ages out ${ACTIVITY_RETENTION_DAYS} days before its newest`, async () => {
    const { organizationId } = newOrg();
    const contactId = newId();
    const events: EventEnvelope[] = [
      visited(organizationId, contactId, ago((ACTIVITY_RETENTION_DAYS + 10) * DAY)),
      clicked(organizationId, contactId, ago((ACTIVITY_RETENTION_DAYS + 10) * DAY)),
      visited(organizationId, contactId, ago(ACTIVITY_RETENTION_DAYS * DAY - 60_000)),
      visited(organizationId, contactId, NOW),
    ];
    for (const event of events) await applyActivityEvent(env.services.deps, event);
    const kept = await env.handle.db
      .select({ type: activities.type, at: activities.occurredAt })
      .from(activities)
      .where(eq(activities.contactId, contactId))
      .orderBy(activities.occurredAt);
    expect(kept).toEqual([
      { type: 'email.clicked', at: new Date(events[1]!.occurredAt) },
      { type: 'page.visited', at: new Date(events[2]!.occurredAt) },
      { type: 'page.visited', at: NOW },
    ]);
  });

  it('a condition on behaviour sends a run down yes or no with the history its batch loads', async () => {
    const { organizationId } = newOrg();
    const journey = await publish(env.handle, organizationId, {
      entry: [{ type: 'api' }],
      start: 'check',
      steps: {
        check: {
          type: 'condition',
          filter: { behavior: { type: 'email.clicked', subject: TEMPLATE, within: '7 days' } },
          yes: 'clicked',
          no: 'missed',
        },
        clicked: { type: 'goal', name: 'clicked' },
        missed: { type: 'exit' },
      },
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const [recent, stale, never] = [newId(), newId(), newId()];
    for (const id of [recent, stale, never])
      await applyCrmEvent(env.services.deps, crmContactCreated(organizationId, id, {}));
    await applyActivityEvent(env.services.deps, clicked(organizationId, recent, ago(2 * DAY)));
    await applyActivityEvent(env.services.deps, clicked(organizationId, stale, ago(8 * DAY)));
    const runs = [recent, stale, never].map((contactId) => ({
      id: newId(),
      organizationId,
      journeyId: journey.journeyId,
      versionId: journey.versionId,
      contactId,
      state: 'ready' as const,
      stepId: 'check',
      visit: 1,
      dueAt: null,
      wait: null,
      data: {},
    }));
    const contactOf = await loadContacts(
      env.handle.db,
      runs.map((r) => ({ ...r, definition: journey.definition })),
      NOW,
    );
    const version = { id: journey.versionId, journeyId: journey.journeyId, version: 1, definition: journey.definition };
    const walked = runs.map((run) =>
      walkRun({ run, version, contact: contactOf(run), now: NOW, visits: new Map(), capped: { sent: 0 } }),
    );
    expect(walked.map((w) => [w.logs[0]!.outcome, w.run.state, w.run.stepId])).toEqual([
      [{ matched: true }, 'converted', 'clicked'],
      [{ matched: false }, 'exited', 'missed'],
      [{ matched: false }, 'exited', 'missed'],
    ]);
  });
});
