// The suppression list: addresses never sent to again (hard bounces, complaints), or not sent
// marketing (unsubscribes), per organization and channel. Every change to it publishes
// `delivery.suppression.added` or `.removed`, written in the transaction that makes it.
import {
  authorize,
  catalogue,
  createEvent,
  type EventEnvelope,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
} from '@mauntic/kernel';
import { appendEvents, type Executor, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { outbox, suppressions } from '../db/schema.ts';
import type { DeliveryDeps } from './deps.ts';

export type SuppressionRow = typeof suppressions.$inferSelect;
export const SUPPRESSION_REASONS = ['hard_bounce', 'complaint', 'unsubscribe', 'manual'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

const address = z.discriminatedUnion('channel', [
  z.object({ channel: z.literal('email'), address: z.email().transform((v) => v.toLowerCase()) }),
  z.object({ channel: z.literal('sms'), address: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number') }),
]);

export const suppressionInput = z.intersection(
  address,
  z.object({ reason: z.enum(SUPPRESSION_REASONS).default('manual'), source: z.string().max(200).optional() }),
);

/** What caused a change to the list: the request, or the message whose feedback it applies. */
export interface SuppressionCause {
  correlationId: string;
  messageId?: string;
}

/** `delivery.suppression.added` / `.removed` for a row that was just written or deleted. */
function suppressionEvent(change: 'added' | 'removed', row: SuppressionRow, cause: SuppressionCause): EventEnvelope {
  const base = {
    organizationId: row.organizationId,
    subjectId: `${row.channel}:${row.address}`,
    correlationId: cause.correlationId,
  };
  const entry = {
    channel: row.channel as 'email' | 'sms',
    address: row.address,
    reason: row.reason as SuppressionReason,
    messageId: cause.messageId ?? null,
  };
  return change === 'added'
    ? createEvent(catalogue.delivery.suppressionAdded, { ...base, data: { ...entry, source: row.source } })
    : createEvent(catalogue.delivery.suppressionRemoved, { ...base, data: entry });
}

/**
 * Adds a suppression, or lets a stronger reason replace an unsubscribe; anything else already on
 * the list stays as it is. A change writes its event in the same transaction; returns the row it
 * changed, or undefined when nothing changed.
 */
export async function suppressInTx(
  tx: Executor,
  organizationId: string,
  entry: { channel: 'email' | 'sms'; address: string; reason: SuppressionReason; source?: string | null },
  cause: SuppressionCause,
): Promise<SuppressionRow | undefined> {
  const [changed] = await tx
    .insert(suppressions)
    .values({
      id: newId(),
      organizationId,
      channel: entry.channel,
      address: entry.channel === 'email' ? entry.address.toLowerCase() : entry.address,
      reason: entry.reason,
      source: entry.source ?? null,
    })
    .onConflictDoUpdate({
      target: [suppressions.organizationId, suppressions.channel, suppressions.address],
      set: { reason: entry.reason, source: entry.source ?? null },
      setWhere: and(eq(suppressions.reason, 'unsubscribe'), sql`excluded.reason <> 'unsubscribe'`),
    })
    .returning();
  if (changed) await appendEvents(tx, outbox, [suppressionEvent('added', changed, cause)]);
  return changed;
}

/** Deletes an address's suppression (only one for `onlyReason`, when given) and writes its event with it. */
export async function unsuppressInTx(
  tx: Executor,
  organizationId: string,
  entry: { channel: string; address: string; onlyReason?: SuppressionReason },
  cause: SuppressionCause,
): Promise<SuppressionRow | undefined> {
  const [removed] = await tx
    .delete(suppressions)
    .where(
      and(
        eq(suppressions.organizationId, organizationId),
        eq(suppressions.channel, entry.channel),
        eq(suppressions.address, entry.address),
        entry.onlyReason ? eq(suppressions.reason, entry.onlyReason) : undefined,
      ),
    )
    .returning();
  if (removed) await appendEvents(tx, outbox, [suppressionEvent('removed', removed, cause)]);
  return removed;
}

export async function addSuppression(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof suppressionInput>) {
  const access = authorize(ctx, 'delivery:write', suppressionInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const changed = await suppressInTx(tx, organizationId, input, { correlationId: ctx.correlationId });
    if (changed) return ok(changed);
    const [row] = await tx
      .select()
      .from(suppressions)
      .where(
        and(
          eq(suppressions.organizationId, organizationId),
          eq(suppressions.channel, input.channel),
          eq(suppressions.address, input.address),
        ),
      );
    return ok(row!);
  });
}

export async function removeSuppression(
  deps: DeliveryDeps,
  ctx: RequestContext,
  raw: { channel: 'email' | 'sms'; address: string },
) {
  const access = authorize(ctx, 'delivery:write', address, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const removed = await deps.handle.db.transaction((tx) =>
    unsuppressInTx(tx, organizationId, input, { correlationId: ctx.correlationId }),
  );
  return removed ? ok(removed) : fail(new NotFoundError('Suppression', input.address));
}

/** An organization's suppressions, newest first, optionally of one channel or reason. */
export async function listSuppressions(
  deps: DeliveryDeps,
  ctx: RequestContext,
  filter: { channel?: string | null; reason?: string | null },
  window: PageWindow,
) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const conditions = [
    filter.channel ? eq(suppressions.channel, filter.channel) : undefined,
    filter.reason ? eq(suppressions.reason, filter.reason) : undefined,
  ].filter((c) => c !== undefined);
  return ok(
    await pageOfOrganization(
      deps.handle.db,
      suppressions,
      access.value.organizationId,
      window,
      conditions.length ? and(...conditions) : undefined,
    ),
  );
}
