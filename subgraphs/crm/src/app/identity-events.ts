// What identity's events do in CRM (consumers.ts subscribes to them): every member identity adds
// to an organization, its owner at sign-up included, is recorded in crm.organization_members,
// which the checks of the users CRM rows refer to (a contact's owner) read.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { organizationMembers } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';

const { memberAdded } = catalogue.identity;
export const IDENTITY_EVENTS = [memberAdded];

/** Applies one identity event in the consumer's transaction; the member's key makes a repeat a no-op too. */
export async function applyIdentityEvent(tx: Executor, _deps: CrmDeps, event: EventEnvelope): Promise<void> {
  if (event.type !== memberAdded.type) return;
  const { userId } = memberAdded.data.parse(event.data);
  await tx
    .insert(organizationMembers)
    .values({ organizationId: event.organizationId, userId, addedAt: new Date(event.occurredAt) })
    .onConflictDoNothing();
}
