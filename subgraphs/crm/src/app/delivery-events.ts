// What delivery's events do in CRM (consumers.ts subscribes to them): sends, opens and clicks go
// on the timeline (people's opens and clicks also count as behaviour; machine ones - Apple MPP,
// link scanners - are kept apart, and earn no points), and hard bounces, complaints and
// unsubscribes become do-not-contact. Point rules for sends, human opens and human clicks apply here.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { recordOwnActivity } from '../db/activities.ts';
import { contacts } from '../db/schema.ts';
import { recordBehaviour } from './activities.ts';
import { setDoNotContactInTx } from './contact-attributes.ts';
import type { CrmDeps } from './deps.ts';
import { applyPointRules } from './point-rules.ts';
import { reevaluateMemberships } from './segment-membership.ts';

const d = catalogue.delivery;
export const DELIVERY_EVENTS = [
  d.messageSent,
  d.messageOpened,
  d.messageClicked,
  d.messageBounced,
  d.messageComplained,
  d.messageUnsubscribed,
];

type Message = {
  messageId: string;
  contactId: string | null;
  channel: string;
  address: string;
  templateId: string | null;
};

/** The contact a message went to: by id, or for a bare email address by that address. */
async function recipient(tx: Executor, organizationId: string, m: Message): Promise<string | null> {
  const where = m.contactId
    ? and(eq(contacts.organizationId, organizationId), eq(contacts.id, m.contactId))
    : m.channel === 'email'
      ? and(eq(contacts.organizationId, organizationId), sql`lower(${contacts.email}) = ${m.address.toLowerCase()}`)
      : undefined;
  if (!where) return null;
  const [row] = await tx.select({ id: contacts.id }).from(contacts).where(where);
  return row?.id ?? null;
}

/** Applies one delivery event in the consumer's transaction. */
export async function applyDeliveryEvent(tx: Executor, deps: CrmDeps, event: EventEnvelope): Promise<void> {
  const def = DELIVERY_EVENTS.find((h) => h.type === event.type);
  if (!def) return;
  const data = def.data.parse(event.data) as Message & Record<string, unknown>;
  const org = event.organizationId;
  const contactId = await recipient(tx, org, data);
  if (!contactId) return;
  const occurredAt = new Date(event.occurredAt);
  const base = {
    organizationId: org,
    contactId,
    subject: data.templateId,
    occurredAt,
    properties: { messageId: data.messageId } as Record<string, unknown>,
  };
  const dnc = (reason: 'bounced' | 'complaint' | 'unsubscribed') =>
    setDoNotContactInTx(
      tx,
      deps,
      org,
      {
        contactId,
        channel: data.channel as 'email',
        doNotContact: true,
        reason,
        source: `delivery:${data.messageId}`,
      },
      event.correlationId,
    );
  switch (event.type) {
    case d.messageSent.type:
      await recordOwnActivity(tx, { ...base, type: `${data.channel}.sent` });
      // A send is not the contact's doing: only the points it earns can move segments.
      if (
        await applyPointRules(tx, deps, {
          organizationId: org,
          contactId,
          trigger: { eventType: d.messageSent.type, subject: data.templateId },
          occurredAt,
          correlationId: event.correlationId,
          causationId: event.id,
        })
      )
        await reevaluateMemberships(tx, deps, {
          organizationId: org,
          contactIds: [contactId],
          changed: ['points'],
          correlationId: event.correlationId,
        });
      break;
    case d.messageOpened.type:
    case d.messageClicked.type: {
      const verb = event.type === d.messageOpened.type ? 'opened' : 'clicked';
      if (data.url) base.properties.url = data.url;
      // A proxy's or scanner's "open" is kept, under its own type, out of every human count.
      if (data.machine) await recordOwnActivity(tx, { ...base, type: `${data.channel}.${verb}.machine` });
      else
        await recordBehaviour(tx, deps, { ...base, type: `${data.channel}.${verb}` }, event.correlationId, {
          eventType: event.type === d.messageOpened.type ? d.messageOpened.type : d.messageClicked.type,
        });
      break;
    }
    case d.messageBounced.type:
      await recordOwnActivity(tx, {
        ...base,
        type: `${data.channel}.bounced`,
        properties: { ...base.properties, bounceType: data.bounceType, reason: data.reason },
      });
      if (data.bounceType === 'hard' && data.channel !== 'webhook') await dnc('bounced');
      break;
    case d.messageComplained.type:
      await recordOwnActivity(tx, { ...base, type: `${data.channel}.complained` });
      if (data.channel !== 'webhook') await dnc('complaint');
      break;
    case d.messageUnsubscribed.type:
      await recordOwnActivity(tx, { ...base, type: `${data.channel}.unsubscribed` });
      if (data.channel !== 'webhook') await dnc('unsubscribed');
      break;
  }
}
