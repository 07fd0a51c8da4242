// What CRM does with the Segment-style calls the integrations context received (consumers.ts
// subscribes to them): identify finds or makes the contact (by userId, then traits.email, then
// anonymousId), sets its standard traits and merges the anonymous visitor it was into it; alias
// merges the previous id's contact into the user's; track, page, screen and group land on the
// timeline as contact events (so behavioural segments, point rules and journey triggers see them),
// a contact being made for an id seen for the first time. Everything goes through the use cases
// the API calls, as the organization's system caller, inside the consumer's transaction.
import {
  catalogue,
  type DomainError,
  type EventEnvelope,
  newId,
  type OrganizationId,
  type RequestContext,
  type Result,
} from '@mauntic/kernel';
import type { Transaction } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { contactIdentities, contacts } from '../db/schema.ts';
import { trackContactEvent } from './activities.ts';
import type { ContactInput } from './contact-values.ts';
import { createContact, updateContact } from './contacts.ts';
import { type CrmDeps, inTransaction } from './deps.ts';
import { mergeContacts } from './merge.ts';

const received = catalogue.integrations.segmentCallReceived;
export const SEGMENT_EVENTS = [received];

type Call = typeof received.data._output;
type Kind = 'user' | 'anonymous';

/** Contact-event names for the calls that are not named by the sender. */
const EVENT_NAMES = { page: 'Page Viewed', screen: 'Screen Viewed', group: 'Group Identified' } as const;

export async function applySegmentEvent(tx: Transaction, deps: CrmDeps, event: EventEnvelope): Promise<void> {
  if (event.type !== received.type) return;
  const call = received.data.parse(event.data);
  const scoped = inTransaction(deps, tx);
  const ctx = systemCaller(event);
  const calls = new SegmentCalls(tx, scoped, ctx, event.organizationId);
  const log = { organizationId: event.organizationId, messageId: call.messageId, call: call.call, eventId: event.id };
  const refused = (what: string, error: { code: string; message: string }) =>
    deps.logger.warn({ ...log, code: error.code, message: error.message }, `segment ${call.call}: CRM refused ${what}`);
  switch (call.call) {
    case 'identify': {
      const contactId = await calls.identify(call, refused);
      if (contactId) await calls.link(contactId, call, refused);
      return;
    }
    case 'alias':
      return calls.alias(call.previousId!, call.userId!, refused);
    default: {
      const contactId = (await calls.known(call)) ?? (await calls.create({}, refused));
      if (!contactId) return;
      await calls.link(contactId, call, refused);
      // Held to the end: a concurrent merge of this contact waits, then takes the event along.
      const locked = await calls.lock(contactId, call);
      if (!locked) return;
      const name = call.call === 'track' ? call.event! : EVENT_NAMES[call.call];
      const properties =
        call.call === 'group'
          ? { groupId: call.groupId, ...(call.traits ? { traits: call.traits } : {}) }
          : {
              ...(call.name ? { name: call.name } : {}),
              ...(call.category ? { category: call.category } : {}),
              ...call.properties,
            };
      const tracked = await trackContactEvent(scoped, ctx, {
        contactId: locked,
        name,
        properties,
        occurredAt: new Date(call.timestamp),
      });
      if (!tracked.ok) refused('the event', tracked.error);
    }
  }
}

class SegmentCalls {
  constructor(
    private readonly tx: Transaction,
    private readonly deps: CrmDeps,
    private readonly ctx: RequestContext,
    private readonly organizationId: string,
  ) {}

  /** The contact an id already names. */
  async byIdentity(kind: Kind, value: string | undefined): Promise<string | undefined> {
    if (!value) return undefined;
    const [row] = await this.tx
      .select({ contactId: contactIdentities.contactId })
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.organizationId, this.organizationId),
          eq(contactIdentities.kind, kind),
          eq(contactIdentities.value, value),
        ),
      );
    return row?.contactId;
  }

  /**
   * Locks the contact for the rest of the transaction. When a concurrent merge took it away, the
   * contact its ids name now (the merge's winner) is locked instead.
   */
  async lock(contactId: string, call: Pick<Call, 'userId' | 'anonymousId'>): Promise<string | undefined> {
    const locked = async (id: string) =>
      (
        await this.tx
          .select({ id: contacts.id })
          .from(contacts)
          .where(and(eq(contacts.organizationId, this.organizationId), eq(contacts.id, id)))
          .for('update')
      )[0]?.id;
    const mine = await locked(contactId);
    if (mine) return mine;
    const now = await this.known(call);
    return now ? locked(now) : undefined;
  }

  /** The contact the call's userId, else its anonymousId, names. */
  async known(call: Pick<Call, 'userId' | 'anonymousId'>): Promise<string | undefined> {
    return (await this.byIdentity('user', call.userId)) ?? (await this.byIdentity('anonymous', call.anonymousId));
  }

  async create(input: ContactInput, refused: Refused): Promise<string | undefined> {
    return outcome(await createContact(this.deps, this.ctx, input), 'the new contact', refused)?.id;
  }

  /**
   * The call's userId and anonymousId name this contact from now on. A contact one of them named
   * before is the same person: it is merged into this one. (Calls of one person may be applied
   * concurrently, keyed by different ids: whichever links second merges the other's contact.)
   */
  async link(contactId: string, call: Pick<Call, 'userId' | 'anonymousId'>, refused: Refused): Promise<void> {
    const ids = [
      ...(call.userId ? [{ kind: 'user' as const, value: call.userId }] : []),
      ...(call.anonymousId ? [{ kind: 'anonymous' as const, value: call.anonymousId }] : []),
    ];
    for (const id of ids) {
      const [linked] = await this.tx
        .insert(contactIdentities)
        .values({ organizationId: this.organizationId, contactId, ...id })
        .onConflictDoNothing()
        .returning({ contactId: contactIdentities.contactId });
      if (linked) continue;
      const other = await this.byIdentity(id.kind, id.value);
      if (other && other !== contactId) await this.merge(other, contactId, refused);
    }
  }

  /** The contact the userId, else traits.email, else the anonymousId names, made when none; traits set. */
  async identify(call: Call, refused: Refused): Promise<string | undefined> {
    const input = traitsInput(call.traits ?? {});
    const byEmail = input.email ? await this.byEmail(input.email) : undefined;
    const target =
      (await this.byIdentity('user', call.userId)) ?? byEmail ?? (await this.byIdentity('anonymous', call.anonymousId));
    if (!target) return this.create(input, refused);
    // An email another contact holds stays with that one: the other traits still apply.
    if (input.email && byEmail && byEmail !== target) delete input.email;
    if (Object.keys(input).length) outcome(await updateContact(this.deps, this.ctx, target, input), 'traits', refused);
    return target;
  }

  /** The previous id's contact and the user's are one person: merged, the user's contact winning. */
  async alias(previousId: string, userId: string, refused: Refused): Promise<void> {
    const previous = (await this.byIdentity('user', previousId)) ?? (await this.byIdentity('anonymous', previousId));
    const user = await this.byIdentity('user', userId);
    if (!previous) return;
    if (user && user !== previous) await this.merge(previous, user, refused);
    else await this.link(previous, { userId }, refused);
  }

  private async byEmail(email: string): Promise<string | undefined> {
    const [row] = await this.tx
      .select({ id: contacts.id })
      .from(contacts)
      .where(
        and(eq(contacts.organizationId, this.organizationId), sql`lower(${contacts.email}) = ${email.toLowerCase()}`),
      );
    return row?.id;
  }

  /** `from` merges into `into` as the API's mergeContacts does: what it did, its ids, its memberships. */
  private async merge(from: string, into: string, refused: Refused): Promise<void> {
    outcome(await mergeContacts(this.deps, this.ctx, { winnerId: into, loserId: from }), 'the merge', refused);
  }
}

type Refused = (what: string, error: { code: string; message: string }) => void;

function outcome<T>(result: Result<T, DomainError>, what: string, refused: Refused) {
  if (result.ok) return result.value;
  refused(what, result.error);
  return undefined;
}

/** Segment's reserved traits that are contact fields (both spellings Segment documents). */
function traitsInput(traits: Record<string, unknown>): ContactInput {
  const input: ContactInput = {};
  const text = (...names: string[]) => {
    for (const name of names) if (typeof traits[name] === 'string' && traits[name]) return traits[name] as string;
    return undefined;
  };
  const set = (key: 'email' | 'firstName' | 'lastName' | 'phone', ...names: string[]) => {
    const value = text(...names);
    if (value) input[key] = value;
  };
  set('email', 'email');
  set('firstName', 'firstName', 'first_name');
  set('lastName', 'lastName', 'last_name');
  set('phone', 'phone');
  return input;
}

/** The organization's system caller for calls its sources sent. */
const systemCaller = (event: EventEnvelope): RequestContext => ({
  correlationId: event.correlationId ?? newId(),
  actor: { type: 'system', id: 'crm-segment-calls' },
  organizationId: event.organizationId as OrganizationId,
  scopes: ['crm:write'],
});
