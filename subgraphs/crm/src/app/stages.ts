// A contact's stage history: each move along the organization's stage pipeline, from where, to
// where, when and why (by hand, a point trigger or a journey, read from the caller, or a merge; a
// contact import records its own set-based, db/import-batches.ts), recorded and
// published as crm.contact.stage-changed in the transaction of the contact write that moved it.
import { catalogue, createEvent, newId, type RequestContext } from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { outbox, stageChanges } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';

export type StageChangeRow = typeof stageChanges.$inferSelect;

/** The system callers that move contacts for point triggers and journeys (see point-triggers.ts, journey-events.ts). */
function reasonOf(ctx: RequestContext): StageChangeRow['reason'] {
  if (ctx.actor.type !== 'system') return 'manual';
  if (ctx.actor.id.startsWith('point-trigger:')) return 'trigger';
  if (ctx.actor.id === 'crm-journey-requests') return 'journey';
  return 'manual';
}

export async function recordStageChange(
  tx: Executor,
  ctx: RequestContext,
  change: { organizationId: string; contactId: string; from: string | null; to: string | null },
  reason: StageChangeRow['reason'] = reasonOf(ctx),
): Promise<void> {
  if (change.from === change.to) return;
  await tx.insert(stageChanges).values({
    id: newId(),
    organizationId: change.organizationId,
    contactId: change.contactId,
    fromStageId: change.from,
    toStageId: change.to,
    reason,
    actor: 'id' in ctx.actor ? ctx.actor.id : null,
  });
  await appendEvents(tx, outbox, [
    createEvent(catalogue.crm.contactStageChanged, {
      organizationId: change.organizationId,
      subjectId: change.contactId,
      correlationId: ctx.correlationId,
      data: { fromStageId: change.from, toStageId: change.to, reason },
    }),
  ]);
}

/** These contacts' stage histories, oldest first. */
export async function stageHistoryOf(
  deps: CrmDeps,
  organizationId: string,
  contactIds: readonly string[],
): Promise<StageChangeRow[]> {
  return deps.handle.db
    .select()
    .from(stageChanges)
    .where(and(eq(stageChanges.organizationId, organizationId), inArray(stageChanges.contactId, [...contactIds])))
    .orderBy(asc(stageChanges.changedAt), asc(stageChanges.id));
}
