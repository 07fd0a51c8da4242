// The journey context's copy of what contacts did, for behaviour conditions and lastActiveAt: the
// catalogued events behind the activities CRM's timeline records (subgraphs/crm/src/app/
// activities.ts, content-events.ts, delivery-events.ts), mapped to the same activity type, subject
// and properties, so a condition counts here what CRM's segment SQL counts there. Each event is
// applied once. CRM's own bookkeeping on the timeline (contact.updated, points.changed, notes...)
// is not kept: conditions on those types report themselves unsupported.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type Executor } from '@mauntic/platform';
import { and, eq, lt, sql } from 'drizzle-orm';
import { activities, contacts, lastActivity, processedEvents } from '../db/schema.ts';
import type { JourneyDeps } from './deps.ts';

export const ACTIVITY_CONSUMER = 'journey-activity';

/**
 * How far back a contact's activity of one type is kept, counted from its newest of that type
 * (rows age out as the next one is applied). Longer than the longest calendar window a condition
 * names in practice ("last year", "within 12 months"); a condition with no window counts this far.
 */
export const ACTIVITY_RETENTION_DAYS = 400;

const c = catalogue.crm;
const content = catalogue.content;
const d = catalogue.delivery;

export const ACTIVITY_EVENTS = [
  c.contactEventTracked,
  c.contactMerged,
  c.contactDeleted,
  content.formSubmitted,
  content.pageVisited,
  d.messageSent,
  d.messageOpened,
  d.messageClicked,
  d.messageBounced,
  d.messageComplained,
  d.messageUnsubscribed,
];

const CHANNEL_ACTIVITY =
  /^(email|sms|push|webhook)\.(sent|bounced|complained|unsubscribed|(opened|clicked)(\.machine)?)$/;

/** The activity types this copy holds (every other type a condition names is unsupported). */
export const keepsActivityType = (type: string) =>
  type === 'event' || type === 'form.submitted' || type === 'page.visited' || CHANNEL_ACTIVITY.test(type);

/** Behaviour, not bookkeeping, moves lastActiveAt (CRM's BEHAVIOUR in activities.ts). */
const BEHAVIOUR = /^(email\.(opened|clicked)|form\.submitted|page\.visited|event)$/;

interface NewActivity {
  /** Null: a message to a bare address, whose contact is found by its email. */
  contactId: string | null;
  email?: string;
  type: string;
  subject: string | null;
  properties: Record<string, unknown>;
  occurredAt: Date;
}

/** Applies one event to the copy unless this consumer already did; true if it applied it. */
export function applyActivityEvent(deps: JourneyDeps, event: EventEnvelope): Promise<boolean> {
  return applyOnce(deps.handle.db, processedEvents, ACTIVITY_CONSUMER, event, (tx) => apply(tx, event));
}

async function apply(tx: Executor, event: EventEnvelope) {
  const org = event.organizationId;
  if (event.type === c.contactMerged.type) {
    const { winnerId, loserId } = c.contactMerged.data.parse(event.data);
    await mergeInto(tx, org, winnerId, loserId);
    return;
  }
  if (event.type === c.contactDeleted.type) {
    await forget(tx, org, event.subject.id);
    return;
  }
  const activity = activityOf(event);
  if (!activity) return;
  const contactId = activity.contactId ?? (activity.email ? await contactByEmail(tx, org, activity.email) : null);
  if (!contactId) return;
  await tx
    .insert(activities)
    .values({
      id: event.id,
      organizationId: org,
      contactId,
      type: activity.type,
      subject: activity.subject,
      properties: activity.properties,
      occurredAt: activity.occurredAt,
    })
    .onConflictDoNothing();
  // Bounded history: this contact's older activity of the type ages out here.
  const horizon = new Date(activity.occurredAt.getTime() - ACTIVITY_RETENTION_DAYS * 86_400_000);
  await tx
    .delete(activities)
    .where(
      and(eq(activities.contactId, contactId), eq(activities.type, activity.type), lt(activities.occurredAt, horizon)),
    );
  if (BEHAVIOUR.test(activity.type)) await touch(tx, org, contactId, activity.occurredAt);
}

/** The activity CRM records for an event: its type, subject and properties as CRM's consumers write them. */
function activityOf(event: EventEnvelope): NewActivity | null {
  const occurredAt = new Date(event.occurredAt);
  switch (event.type) {
    case c.contactEventTracked.type: {
      const data = c.contactEventTracked.data.parse(event.data);
      return {
        contactId: event.subject.id,
        type: 'event',
        subject: data.name,
        properties: data.properties,
        occurredAt: new Date(data.occurredAt),
      };
    }
    case content.formSubmitted.type: {
      const data = content.formSubmitted.data.parse(event.data);
      return {
        contactId: data.contactId,
        type: 'form.submitted',
        subject: data.formId,
        properties: { fields: data.fields, pageUrl: data.pageUrl },
        occurredAt,
      };
    }
    case content.pageVisited.type: {
      const data = content.pageVisited.data.parse(event.data);
      return {
        contactId: data.contactId,
        type: 'page.visited',
        subject: data.url,
        properties: { referrer: data.referrer, pageId: data.pageId },
        occurredAt,
      };
    }
    default:
      return messageActivity(event, occurredAt);
  }
}

function messageActivity(event: EventEnvelope, occurredAt: Date): NewActivity | null {
  const def = [
    d.messageSent,
    d.messageOpened,
    d.messageClicked,
    d.messageBounced,
    d.messageComplained,
    d.messageUnsubscribed,
  ].find((e) => e.type === event.type);
  if (!def) return null;
  const data = def.data.parse(event.data) as Record<string, unknown> & {
    messageId: string;
    contactId: string | null;
    channel: string;
    address: string;
    templateId: string | null;
  };
  const verb = event.type.slice('delivery.message.'.length);
  const properties: Record<string, unknown> = { messageId: data.messageId };
  if ((verb === 'opened' || verb === 'clicked') && data.url) properties.url = data.url;
  if (verb === 'bounced') Object.assign(properties, { bounceType: data.bounceType, reason: data.reason });
  const machine = (verb === 'opened' || verb === 'clicked') && data.machine ? '.machine' : '';
  return {
    contactId: data.contactId,
    // CRM finds the contact of a bare address by its email; other channels' bare addresses are no one's.
    ...(data.contactId === null && data.channel === 'email' ? { email: data.address } : {}),
    type: `${data.channel}.${verb}${machine}`,
    subject: data.templateId,
    properties,
    occurredAt,
  };
}

async function contactByEmail(tx: Executor, organizationId: string, email: string): Promise<string | null> {
  const [row] = await tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(
      and(
        eq(contacts.organizationId, organizationId),
        sql`lower(${contacts.email}) = ${email.toLowerCase()}`,
        eq(contacts.deleted, false),
      ),
    )
    .limit(1);
  return row?.id ?? null;
}

async function touch(tx: Executor, organizationId: string, contactId: string, at: Date) {
  await tx
    .insert(lastActivity)
    .values({ contactId, organizationId, at })
    .onConflictDoUpdate({
      target: lastActivity.contactId,
      set: { at: sql`greatest(${lastActivity.at}, excluded.at)` },
      setWhere: sql`${lastActivity.organizationId} = ${organizationId}`,
    });
}

/** A merge moves the loser's history to the winner, as CRM's does. */
async function mergeInto(tx: Executor, organizationId: string, winnerId: string, loserId: string) {
  await tx
    .update(activities)
    .set({ contactId: winnerId })
    .where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, loserId)));
  const [loser] = await tx
    .delete(lastActivity)
    .where(and(eq(lastActivity.organizationId, organizationId), eq(lastActivity.contactId, loserId)))
    .returning({ at: lastActivity.at });
  if (loser) await touch(tx, organizationId, winnerId, loser.at);
}

async function forget(tx: Executor, organizationId: string, contactId: string) {
  await tx
    .delete(activities)
    .where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, contactId)));
  await tx
    .delete(lastActivity)
    .where(and(eq(lastActivity.organizationId, organizationId), eq(lastActivity.contactId, contactId)));
}
