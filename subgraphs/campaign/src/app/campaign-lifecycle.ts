// Moving a campaign through its lifecycle (domain/lifecycle.ts) by hand: launching it (now or at
// its time), pausing, resuming and cancelling. Each move checks the status it starts from under a
// row lock, which the fan-out also takes (shared) for each batch it hands over: once a pause or a
// cancel commits, no further send request of the campaign is written.
import {
  authorize,
  catalogue,
  createEvent,
  type EventDefinition,
  type FieldIssue,
  fail,
  NotFoundError,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor, type Transaction, traceparentOf } from '@mauntic/platform';
import { and, count, eq, isNotNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { campaigns, outbox, recipients } from '../db/schema.ts';
import { type CampaignAction, type CampaignStatus, transition } from '../domain/lifecycle.ts';
import { type CampaignRow, lockCampaign } from './campaigns.ts';
import type { CampaignDeps } from './deps.ts';

const idInput = z.object({ id: z.uuid() });
type IdInput = z.input<typeof idInput>;

/** The earliest UTC offset of any zone (+14:00): a local time is first reached there. */
const EARLIEST_OFFSET_MS = 14 * 3600_000;

async function move(
  deps: CampaignDeps,
  ctx: RequestContext,
  raw: IdInput,
  apply: (tx: Transaction, current: CampaignRow) => Promise<Result<CampaignRow>>,
): Promise<Result<CampaignRow>> {
  const access = authorize(ctx, 'campaign:write', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { input, organizationId } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<CampaignRow>> => {
    const current = await lockCampaign(tx, organizationId, input.id);
    if (!current) return fail(new NotFoundError('Campaign', input.id));
    return apply(tx, current);
  });
}

const setStatus = async (tx: Executor, id: string, status: CampaignStatus, more: Partial<CampaignRow> = {}) =>
  (
    await tx
      .update(campaigns)
      .set({ status, ...more, updatedAt: sql`now()` })
      .where(eq(campaigns.id, id))
      .returning()
  )[0]!;

export const campaignEvent = <T extends string, D>(
  correlationId: string,
  row: CampaignRow,
  def: EventDefinition<T, D>,
  data: D,
) => createEvent(def, { organizationId: row.organizationId, subjectId: row.id, correlationId, data });

/** What stands in the way of launching a draft, every issue at once. */
export function launchIssues(row: CampaignRow): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (!row.variants.length) issues.push({ path: ['variants'], message: 'a campaign needs a template to send' });
  if (!row.segmentIds.length) issues.push({ path: ['segmentIds'], message: 'a campaign needs at least one segment' });
  if (row.variants.length > 1 && !row.abTest)
    issues.push({ path: ['abTest'], message: 'several variants are an A/B test: give its sample and criterion' });
  if (row.abTest && row.variants.length < 2)
    issues.push({ path: ['variants'], message: 'an A/B test needs 2 to 5 variants' });
  return issues;
}

/**
 * Launches a draft: it starts at once (the sender materialises its recipients and hands their
 * send requests to delivery), or at its send time, or, for a local send time, when the first
 * time zone reaches it.
 */
export function launchCampaign(deps: CampaignDeps, ctx: RequestContext, raw: IdInput) {
  return move(deps, ctx, raw, async (tx, current) => {
    const issues = launchIssues(current);
    if (issues.length) return fail(new ValidationError(issues.map((i) => ({ ...i, path: ['campaign', ...i.path] }))));
    const now = deps.now();
    const sendAt = current.localSendAt
      ? new Date(Date.parse(`${current.localSendAt}:00Z`) - EARLIEST_OFFSET_MS)
      : current.sendAt;
    const later = sendAt !== null && sendAt.getTime() > now.getTime();
    const next = transition(current.status, later ? 'schedule' : 'launch');
    if (!next.ok) return next;
    return ok(
      await setStatus(tx, current.id, next.value!, {
        sendAt: sendAt ?? now,
        correlationId: ctx.correlationId,
        // Tracing on: the fan-out, now or at the send time, goes on in the launch request's trace.
        traceParent: traceparentOf() ?? null,
      }),
    );
  });
}

/** A lifecycle move by hand that writes its event. */
function handMove(
  action: CampaignAction,
  event: (tx: Executor, row: CampaignRow, ctx: RequestContext) => Promise<void>,
) {
  return (deps: CampaignDeps, ctx: RequestContext, raw: IdInput) =>
    move(deps, ctx, raw, async (tx, current) => {
      const next = transition(current.status, action, current.materialisedAt !== null);
      if (!next.ok) return next;
      const row = await setStatus(tx, current.id, next.value!, action === 'cancel' ? { completedAt: deps.now() } : {});
      await event(tx, row, ctx);
      return ok(row);
    });
}

/** How many of a campaign's recipients have been handed to delivery. */
export async function requestedCount(db: Executor, campaignId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(recipients)
    .where(and(eq(recipients.campaignId, campaignId), isNotNull(recipients.requestedAt)));
  return row?.n ?? 0;
}

/** No further send request goes out; what was handed to delivery goes on. */
export const pauseCampaign = handMove('pause', (tx, row, ctx) =>
  appendEvents(tx, outbox, [
    campaignEvent(ctx.correlationId, row, catalogue.campaign.campaignPaused, { name: row.name }),
  ]),
);

/** The fan-out goes on from where it stopped (or the campaign waits for its time again). */
export const resumeCampaign = handMove('resume', (tx, row, ctx) =>
  appendEvents(tx, outbox, [
    campaignEvent(ctx.correlationId, row, catalogue.campaign.campaignResumed, { name: row.name }),
  ]),
);

/** Stopped for good: recipients not handed over yet get nothing. */
export const cancelCampaign = handMove('cancel', async (tx, row, ctx) =>
  appendEvents(tx, outbox, [
    campaignEvent(ctx.correlationId, row, catalogue.campaign.campaignCancelled, {
      name: row.name,
      requested: await requestedCount(tx, row.id),
    }),
  ]),
);
