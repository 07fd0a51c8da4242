// The suppression list: addresses never sent to again (hard bounces, complaints), or not sent
// marketing (unsubscribes), per organization and channel.
import { authorize, fail, NotFoundError, newId, ok, type RequestContext } from '@mauntic/kernel';
import { type Executor, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { suppressions } from '../db/schema.ts';
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

/** Adds (or keeps) a suppression. A stronger reason replaces an unsubscribe; nothing else changes. */
export async function suppressInTx(
  tx: Executor,
  organizationId: string,
  entry: { channel: 'email' | 'sms'; address: string; reason: SuppressionReason; source?: string | null },
): Promise<void> {
  await tx
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
      setWhere: and(eq(suppressions.reason, 'unsubscribe')),
    });
}

export async function addSuppression(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof suppressionInput>) {
  const access = authorize(ctx, 'delivery:write', suppressionInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  await suppressInTx(deps.handle.db, organizationId, input);
  const [row] = await deps.handle.db
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
}

export async function removeSuppression(
  deps: DeliveryDeps,
  ctx: RequestContext,
  raw: { channel: 'email' | 'sms'; address: string },
) {
  const access = authorize(ctx, 'delivery:write', address, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const removed = await deps.handle.db
    .delete(suppressions)
    .where(
      and(
        eq(suppressions.organizationId, organizationId),
        eq(suppressions.channel, input.channel),
        eq(suppressions.address, input.address),
      ),
    )
    .returning();
  return removed[0] ? ok(removed[0]) : fail(new NotFoundError('Suppression', input.address));
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
