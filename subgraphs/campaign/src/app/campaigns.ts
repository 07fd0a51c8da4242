// Campaigns as marketers edit them: a draft with its channel, variants, audience, schedule,
// throttle, UTM parameters and A/B test, changed freely until it is launched, and read back.
import { authorize, fail, NotFoundError, newId, ok, type RequestContext, type Result } from '@mauntic/kernel';
import { type Executor, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { campaigns } from '../db/schema.ts';
import { abTest, CHANNELS, localDateTime, throttle, timeZone, utm, variants } from '../domain/campaign.ts';
import { CAMPAIGN_STATUSES, transition } from '../domain/lifecycle.ts';
import type { CampaignDeps } from './deps.ts';

export type CampaignRow = typeof campaigns.$inferSelect;

const name = z.string().trim().min(1).max(200);
const segmentIds = z.array(z.uuid()).max(50);

/** What a draft may set; null clears an optional setting. */
const settings = {
  variants: variants.optional(),
  segmentIds: segmentIds.optional(),
  excludedSegmentIds: segmentIds.optional(),
  sendAt: z.iso.datetime({ offset: true }).nullable().optional(),
  localSendAt: localDateTime.nullable().optional(),
  timezone: timeZone.optional(),
  throttle: throttle.nullable().optional(),
  utm: utm.nullable().optional(),
  abTest: abTest.nullable().optional(),
};

export const createCampaignInput = z.object({ name, channel: z.enum(CHANNELS), ...settings });
export const updateCampaignInput = z.object({ id: z.uuid(), name: name.optional(), ...settings });

type Settings = z.output<z.ZodObject<typeof settings>>;

/** The columns a draft's settings write; only those given. */
function columns(input: Settings & { name?: string | undefined }) {
  const given = <K extends keyof typeof input>(key: K) => (input[key] !== undefined ? { [key]: input[key] } : {});
  return {
    ...given('name'),
    ...given('variants'),
    ...given('segmentIds'),
    ...given('excludedSegmentIds'),
    ...(input.sendAt !== undefined ? { sendAt: input.sendAt === null ? null : new Date(input.sendAt) } : {}),
    ...given('localSendAt'),
    ...given('timezone'),
    ...given('throttle'),
    ...given('utm'),
    ...given('abTest'),
  };
}

export async function createCampaign(
  deps: CampaignDeps,
  ctx: RequestContext,
  raw: z.input<typeof createCampaignInput>,
): Promise<Result<CampaignRow>> {
  const access = authorize(ctx, 'campaign:write', createCampaignInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [row] = await deps.handle.db
    .insert(campaigns)
    .values({ id: newId(), organizationId, channel: input.channel, ...columns(input), name: input.name })
    .returning();
  return ok(row!);
}

/** The campaign, locked for a change, in the caller's organization. */
export async function lockCampaign(tx: Executor, organizationId: string, id: string): Promise<CampaignRow | undefined> {
  const [row] = await tx
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.id, id), eq(campaigns.organizationId, organizationId)))
    .for('update');
  return row;
}

/** Changes a draft; a campaign launched is what it was launched as. */
export async function updateCampaign(
  deps: CampaignDeps,
  ctx: RequestContext,
  raw: z.input<typeof updateCampaignInput>,
): Promise<Result<CampaignRow>> {
  const access = authorize(ctx, 'campaign:write', updateCampaignInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<CampaignRow>> => {
    const current = await lockCampaign(tx, organizationId, input.id);
    if (!current) return fail(new NotFoundError('Campaign', input.id));
    const move = transition(current.status, 'edit');
    if (!move.ok) return move;
    const [row] = await tx
      .update(campaigns)
      .set({ ...columns(input), updatedAt: sql`now()` })
      .where(eq(campaigns.id, current.id))
      .returning();
    return ok(row!);
  });
}

export const campaignOf = async (db: Executor, organizationId: string, id: string) =>
  (
    await db
      .select()
      .from(campaigns)
      .where(and(eq(campaigns.id, id), eq(campaigns.organizationId, organizationId)))
  )[0];

export async function getCampaign(
  deps: CampaignDeps,
  ctx: RequestContext,
  id: string,
): Promise<Result<CampaignRow | null>> {
  const access = authorize(ctx, 'campaign:read', z.uuid(), id, ['id']);
  if (!access.ok) return access;
  return ok((await campaignOf(deps.handle.db, access.value.organizationId, access.value.input)) ?? null);
}

export const campaignFilter = z.object({ status: z.enum(CAMPAIGN_STATUSES).optional() });

export async function listCampaigns(
  deps: CampaignDeps,
  ctx: RequestContext,
  raw: z.input<typeof campaignFilter>,
  window: PageWindow,
) {
  const access = authorize(ctx, 'campaign:read', campaignFilter, raw, ['filter']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return ok(
    await pageOfOrganization(
      deps.handle.db,
      campaigns,
      organizationId,
      window,
      input.status ? eq(campaigns.status, input.status) : undefined,
    ),
  );
}
