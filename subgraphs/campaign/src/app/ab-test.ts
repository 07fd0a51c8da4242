// A/B tests: a sample of the audience split evenly among the variants (in an order fixed by a
// hash of the contact, so a restart draws the same sample), the winner chosen after the window by
// unique human opens, unique human clicks or conversions (or by hand), and the rest of the
// audience sent the winner: their variant is set, set-based, and the fan-out walks them again.
import {
  authorize,
  catalogue,
  fail,
  NotFoundError,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor, rowsOf, type Transaction } from '@mauntic/platform';
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { campaigns, conversions, outbox, recipients } from '../db/schema.ts';
import { VARIANT_KEYS } from '../domain/campaign.ts';
import { transition } from '../domain/lifecycle.ts';
import { campaignEvent } from './campaign-lifecycle.ts';
import { type CampaignRow, lockCampaign } from './campaigns.ts';
import type { CampaignDeps } from './deps.ts';

/** Gives the sample its variants, round robin in hash order; returns the sample's size. */
export async function assignSample(tx: Executor, row: CampaignRow, audience: number): Promise<number> {
  const test = row.abTest!;
  const size = Math.min(audience, test.sampleCount ?? Math.ceil((audience * test.samplePercent!) / 100));
  const keys = `{${row.variants.map((v) => v.key).join(',')}}`;
  await tx.execute(sql`
    update ${recipients} r set variant = (${keys}::text[])[(s.rn % ${row.variants.length}) + 1]
    from (select contact_id, row_number() over (order by md5(contact_id::text || ${row.id}::text)) - 1 as rn
          from ${recipients} where campaign_id = ${row.id}) s
    where r.campaign_id = ${row.id} and r.contact_id = s.contact_id and s.rn < ${size}`);
  return size;
}

/** Each variant's score under the test's criterion, from the stats and conversions counted so far. */
export async function scoresOf(db: Executor, row: CampaignRow): Promise<Record<string, number>> {
  const criterion = row.abTest!.criterion;
  const counted = rowsOf<{ variant: string; n: number }>(
    await db.execute(
      criterion === 'conversions'
        ? sql`select variant, count(*)::int as n from ${conversions} where campaign_id = ${row.id} group by variant`
        : sql`select variant, count(distinct message_id)::int as n from campaign.outcomes
              where campaign_id = ${row.id} and kind = ${criterion === 'opens' ? 'opened' : 'clicked'}
                and (kind <> 'opened' or detail = 'human')
              group by variant`,
    ),
  );
  return Object.fromEntries(row.variants.map((v) => [v.key, counted.find((c) => c.variant === v.key)?.n ?? 0]));
}

/** The winner takes the rest of the audience; the fan-out walks the campaign again from the start. */
async function declareWinner(
  tx: Transaction,
  row: CampaignRow,
  variant: string,
  decidedBy: 'opens' | 'clicks' | 'conversions' | 'manual',
  correlationId: string,
  now: Date,
) {
  const scores = await scoresOf(tx, row);
  await tx
    .update(recipients)
    .set({ variant })
    .where(and(eq(recipients.campaignId, row.id), isNull(recipients.variant)));
  const [won] = await tx
    .update(campaigns)
    .set({ winner: variant, winnerDecidedAt: now, scores, cursorDueAt: null, cursorContactId: null })
    .where(eq(campaigns.id, row.id))
    .returning();
  await appendEvents(tx, outbox, [
    campaignEvent(correlationId, won!, catalogue.campaign.variantWon, { name: row.name, variant, decidedBy, scores }),
  ]);
  return won!;
}

/** Chooses the winner of every A/B test whose window has passed since its sample went out. */
export async function decideDueWinners(deps: CampaignDeps): Promise<number> {
  const now = deps.now();
  const due = await deps.handle.db
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.status, 'sending'), isNull(campaigns.winner), isNotNull(campaigns.sampleSentAt)));
  let decided = 0;
  for (const candidate of due) {
    const windowEnds = candidate.sampleSentAt!.getTime() + candidate.abTest!.windowMinutes * 60_000;
    if (windowEnds > now.getTime()) continue;
    const won = await deps.handle.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(campaigns)
        .where(and(eq(campaigns.id, candidate.id), eq(campaigns.status, 'sending'), isNull(campaigns.winner)))
        .for('update', { skipLocked: true });
      if (!row) return false;
      const scores = await scoresOf(tx, row);
      // The highest score; a tie goes to the first variant.
      const best = row.variants.reduce((a, b) => (scores[b.key]! > scores[a.key]! ? b : a)).key;
      await declareWinner(tx, row, best, row.abTest!.criterion, row.correlationId ?? row.id, now);
      return true;
    });
    if (won) decided++;
  }
  return decided;
}

export const chooseWinnerInput = z.object({ id: z.uuid(), variant: z.enum(VARIANT_KEYS) });

/** A winner chosen by hand, before the window has passed: the rest of the audience gets it. */
export async function chooseWinner(
  deps: CampaignDeps,
  ctx: RequestContext,
  raw: z.input<typeof chooseWinnerInput>,
): Promise<Result<CampaignRow>> {
  const access = authorize(ctx, 'campaign:write', chooseWinnerInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<CampaignRow>> => {
    const row = await lockCampaign(tx, organizationId, input.id);
    if (!row) return fail(new NotFoundError('Campaign', input.id));
    const move = transition(row.status, 'pickWinner');
    if (!move.ok) return move;
    if (!row.abTest || row.winner)
      return fail(
        new ValidationError([
          {
            path: ['input', 'id'],
            message: row.winner ? 'the winner was already chosen' : 'the campaign is no A/B test',
          },
        ]),
      );
    if (!row.variants.some((v) => v.key === input.variant))
      return fail(new ValidationError([{ path: ['input', 'variant'], message: 'the campaign has no such variant' }]));
    return ok(await declareWinner(tx, row, input.variant, 'manual', ctx.correlationId, deps.now()));
  });
}

/** Records a conversion for the A/B tests still open that count this event and sent the contact a variant. */
export async function recordConversion(
  tx: Executor,
  organizationId: string,
  contactId: string,
  name: string,
  at: Date,
) {
  await tx.execute(sql`
    insert into ${conversions} (campaign_id, contact_id, organization_id, variant, at)
    select r.campaign_id, r.contact_id, r.organization_id, r.variant, ${at.toISOString()}::timestamptz
    from ${campaigns} c
    join ${recipients} r on r.campaign_id = c.id and r.contact_id = ${contactId}
    where c.organization_id = ${organizationId} and c.winner is null and c.ab_test ->> 'conversionEvent' = ${name}
      and r.requested_at is not null and r.requested_at <= ${at.toISOString()}::timestamptz
    on conflict do nothing`);
}
