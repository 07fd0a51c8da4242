// Live stats of campaigns, by variant, from delivery's outcome events for campaign messages (the
// message's source names the campaign and, as its step, the variant): one row per message, kind
// and detail, counted on read. Each event is applied once per consumer group.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, rowsOf } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { conversions, outcomes, processedEvents, recipients } from '../db/schema.ts';
import type { CampaignRow } from './campaigns.ts';
import type { CampaignDeps } from './deps.ts';
import { audienceOf } from './fan-out.ts';

export const STATS_CONSUMER = 'campaign-stats';

const d = catalogue.delivery;

/** Each delivery event and the outcome kind it counts as. */
const KINDS = {
  [d.messageSent.type]: 'sent',
  [d.messageDelivered.type]: 'delivered',
  [d.messageOpened.type]: 'opened',
  [d.messageClicked.type]: 'clicked',
  [d.messageBounced.type]: 'bounced',
  [d.messageComplained.type]: 'complained',
  [d.messageUnsubscribed.type]: 'unsubscribed',
  [d.messageFailed.type]: 'failed',
} as const;

export const STATS_EVENTS = Object.keys(KINDS);

interface MessageFacts {
  messageId: string;
  contactId: string | null;
  source: { kind: string; id: string | null; stepId: string | null };
  machine?: boolean;
  url?: string;
}

/** Counts one outcome of a campaign message; other messages' events are ignored. */
export async function applyDeliveryEvent(deps: CampaignDeps, event: EventEnvelope): Promise<boolean> {
  const facts = event.data as MessageFacts;
  if (facts.source?.kind !== 'campaign' || !facts.source.id) return false;
  const kind = KINDS[event.type as keyof typeof KINDS];
  if (!kind) return false;
  // Opens and clicks by mail proxies and link scanners are counted apart from people's.
  const machine = facts.machine === true;
  const [k, detail] =
    kind === 'opened'
      ? [kind, machine ? 'machine' : 'human']
      : kind === 'clicked'
        ? [machine ? 'clicked_machine' : kind, facts.url ?? '']
        : [kind, ''];
  return applyOnce(deps.handle.db, processedEvents, STATS_CONSUMER, event, async (tx) => {
    await tx
      .insert(outcomes)
      .values({
        campaignId: facts.source.id!,
        messageId: facts.messageId,
        kind: k,
        detail,
        organizationId: event.organizationId,
        variant: facts.source.stepId ?? 'A',
        contactId: facts.contactId,
        firstAt: new Date(event.occurredAt),
      })
      .onConflictDoUpdate({
        target: [outcomes.campaignId, outcomes.messageId, outcomes.kind, outcomes.detail],
        set: { count: sql`${outcomes.count} + 1` },
        // Only a campaign of the event's own organization is counted against.
        setWhere: sql`${outcomes.organizationId} = ${event.organizationId}`,
      });
  });
}

export interface VariantStats {
  variant: string;
  requested: number;
  sent: number;
  delivered: number;
  openedHuman: number;
  openedMachine: number;
  opens: number;
  clicked: number;
  clicks: number;
  bounced: number;
  complained: number;
  unsubscribed: number;
  failed: number;
  converted: number;
}

/** The campaign's figures for each of its variants, in the variants' order. */
export async function campaignStats(deps: CampaignDeps, row: CampaignRow): Promise<VariantStats[]> {
  const counted = rowsOf<Omit<VariantStats, 'requested' | 'converted'>>(
    await deps.handle.db.execute(sql`
      select variant,
        count(*) filter (where kind = 'sent')::int as sent,
        count(*) filter (where kind = 'delivered')::int as delivered,
        count(distinct message_id) filter (where kind = 'opened' and detail = 'human')::int as "openedHuman",
        count(distinct message_id) filter (where kind = 'opened' and detail = 'machine')::int as "openedMachine",
        coalesce(sum(count) filter (where kind = 'opened' and detail = 'human'), 0)::int as opens,
        count(distinct message_id) filter (where kind = 'clicked')::int as clicked,
        coalesce(sum(count) filter (where kind = 'clicked'), 0)::int as clicks,
        count(distinct message_id) filter (where kind = 'bounced')::int as bounced,
        count(distinct message_id) filter (where kind = 'complained')::int as complained,
        count(distinct message_id) filter (where kind = 'unsubscribed')::int as unsubscribed,
        count(distinct message_id) filter (where kind = 'failed')::int as failed
      from ${outcomes}
      where organization_id = ${row.organizationId} and campaign_id = ${row.id}
      group by variant`),
  );
  const requested = rowsOf<{ variant: string; n: number }>(
    await deps.handle.db.execute(sql`
      select variant, count(*)::int as n from ${recipients}
      where campaign_id = ${row.id} and organization_id = ${row.organizationId} and requested_at is not null
      group by variant`),
  );
  const converted = rowsOf<{ variant: string; n: number }>(
    await deps.handle.db.execute(sql`
      select variant, count(*)::int as n from ${conversions}
      where campaign_id = ${row.id} and organization_id = ${row.organizationId}
      group by variant`),
  );
  return row.variants.map(({ key }) => ({
    variant: key,
    requested: requested.find((r) => r.variant === key)?.n ?? 0,
    sent: 0,
    delivered: 0,
    openedHuman: 0,
    openedMachine: 0,
    opens: 0,
    clicked: 0,
    clicks: 0,
    bounced: 0,
    complained: 0,
    unsubscribed: 0,
    failed: 0,
    ...counted.find((c) => c.variant === key),
    converted: converted.find((c) => c.variant === key)?.n ?? 0,
  }));
}

export interface LinkStats {
  variant: string;
  url: string;
  /** Recipients who clicked it (people, not scanners). */
  uniqueClicks: number;
  clicks: number;
}

/** The click map: each link people clicked, by variant, most clicked first. */
export async function clickMap(deps: CampaignDeps, row: CampaignRow): Promise<LinkStats[]> {
  return rowsOf<LinkStats>(
    await deps.handle.db.execute(sql`
      select variant, detail as url, count(*)::int as "uniqueClicks", sum(count)::int as clicks
      from ${outcomes}
      where organization_id = ${row.organizationId} and campaign_id = ${row.id} and kind = 'clicked'
      group by variant, detail
      order by "uniqueClicks" desc, url`),
  );
}

/** How many contacts the campaign would reach if it started now (a draft's audience as it stands). */
export async function audienceCount(deps: CampaignDeps, row: CampaignRow): Promise<number> {
  if (!row.segmentIds.length) return 0;
  return rowsOf<{ n: number }>(await deps.handle.db.execute(sql`select count(*)::int as n ${audienceOf(row)}`))[0]!.n;
}
