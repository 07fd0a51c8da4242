// The suppression list: addresses never sent to again (hard bounces, complaints), or not sent
// marketing (unsubscribes), per organization and channel.
import { fail, NotFoundError, newId, ok, type RequestContext, requireScope, validateInput } from '@mauntic/kernel';
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
  const org = requireScope(ctx, 'delivery:write');
  if (!org.ok) return org;
  const input = validateInput(suppressionInput, raw);
  if (!input.ok) return input;
  await suppressInTx(deps.handle.db, org.value, input.value);
  const [row] = await deps.handle.db
    .select()
    .from(suppressions)
    .where(
      and(
        eq(suppressions.organizationId, org.value),
        eq(suppressions.channel, input.value.channel),
        eq(suppressions.address, input.value.address),
      ),
    );
  return ok(row!);
}

export async function removeSuppression(
  deps: DeliveryDeps,
  ctx: RequestContext,
  raw: { channel: 'email' | 'sms'; address: string },
) {
  const org = requireScope(ctx, 'delivery:write');
  if (!org.ok) return org;
  const input = validateInput(address, raw);
  if (!input.ok) return input;
  const removed = await deps.handle.db
    .delete(suppressions)
    .where(
      and(
        eq(suppressions.organizationId, org.value),
        eq(suppressions.channel, input.value.channel),
        eq(suppressions.address, input.value.address),
      ),
    )
    .returning();
  return removed[0] ? ok(removed[0]) : fail(new NotFoundError('Suppression', input.value.address));
}

/** An organization's suppressions, newest first, optionally of one channel or reason. */
export async function listSuppressions(
  deps: DeliveryDeps,
  ctx: RequestContext,
  filter: { channel?: string | null; reason?: string | null },
  window: PageWindow,
) {
  const org = requireScope(ctx, 'delivery:read');
  if (!org.ok) return org;
  const conditions = [
    filter.channel ? eq(suppressions.channel, filter.channel) : undefined,
    filter.reason ? eq(suppressions.reason, filter.reason) : undefined,
  ].filter((c) => c !== undefined);
  return ok(
    await pageOfOrganization(
      deps.handle.db,
      suppressions,
      org.value,
      window,
      conditions.length ? and(...conditions) : undefined,
    ),
  );
}
