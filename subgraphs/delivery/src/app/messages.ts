// Reading delivery records: one message, a filtered page of them, and counts per template or
// per source. Machine opens and clicks (Apple MPP, link scanners) are counted apart from people's.
import { authorize, ok, type RequestContext } from '@mauntic/kernel';
import { type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq, type SQL, sql } from 'drizzle-orm';
import { messages } from '../db/schema.ts';
import { BOUNCE_EFFECTS, BOUNCE_REASONS, type BounceEffect } from '../domain/bounce.ts';
import type { DeliveryDeps } from './deps.ts';

export const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'opened',
  'clicked',
  'bounced',
  'complained',
  'failed',
  'skipped',
] as const;

export interface MessageFilter {
  status?: string | null;
  channel?: string | null;
  templateId?: string | null;
  contactId?: string | null;
  sourceKind?: string | null;
  sourceId?: string | null;
  address?: string | null;
}

/** One of the caller's messages; null when it has none with that id. */
export async function getMessage(deps: DeliveryDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select()
    .from(messages)
    .where(and(eq(messages.organizationId, access.value.organizationId), eq(messages.id, id)));
  return ok(row ?? null);
}

export async function listMessages(deps: DeliveryDeps, ctx: RequestContext, filter: MessageFilter, window: PageWindow) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const conditions: SQL[] = [];
  if (filter.status) conditions.push(eq(messages.status, filter.status));
  if (filter.channel) conditions.push(eq(messages.channel, filter.channel));
  if (filter.templateId) conditions.push(eq(messages.templateId, filter.templateId));
  if (filter.contactId) conditions.push(eq(messages.contactId, filter.contactId));
  if (filter.sourceKind) conditions.push(eq(messages.sourceKind, filter.sourceKind));
  if (filter.sourceId) conditions.push(eq(messages.sourceId, filter.sourceId));
  if (filter.address) conditions.push(eq(messages.address, filter.address.toLowerCase()));
  return ok(
    await pageOfOrganization(
      deps.handle.db,
      messages,
      access.value.organizationId,
      window,
      conditions.length ? and(...conditions) : undefined,
    ),
  );
}

export interface DeliveryStats {
  key: string | null;
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: number;
  bounced: number;
  /** Bounced for a dead address (suppressed). */
  bouncedDeadAddress: number;
  /** Bounced for a reason of the sender's: counts against the sending domain and IP, not the address. */
  bouncedBySender: number;
  complained: number;
  /** Messages opened by a person at least once. */
  opened: number;
  clicked: number;
  machineOpened: number;
  machineClicked: number;
}

/** The bounce reasons of one effect, as a SQL list. */
const reasonsWith = (effect: BounceEffect) =>
  sql`(${sql.join(
    BOUNCE_REASONS.filter((r) => BOUNCE_EFFECTS[r] === effect).map((r) => sql`${r}`),
    sql`, `,
  )})`;

/** Counts per template (`by: 'template'`) or per source (`by: 'source'`: kind:id). */
export async function deliveryStats(
  deps: DeliveryDeps,
  ctx: RequestContext,
  by: 'template' | 'source',
  filter: { templateId?: string | null; sourceKind?: string | null; sourceId?: string | null },
) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const key =
    by === 'template'
      ? sql`${messages.templateId}::text`
      : sql`${messages.sourceKind} || ':' || coalesce(${messages.sourceId}, '')`;
  const conditions: SQL[] = [eq(messages.organizationId, access.value.organizationId)];
  if (filter.templateId) conditions.push(eq(messages.templateId, filter.templateId));
  if (filter.sourceKind) conditions.push(eq(messages.sourceKind, filter.sourceKind));
  if (filter.sourceId) conditions.push(eq(messages.sourceId, filter.sourceId));
  const rows = await deps.handle.rows<Record<string, string | number | null>>(sql`
    select ${key} as key,
      count(*) filter (where status in ('queued', 'sending'))::int as queued,
      count(*) filter (where sent_at is not null)::int as sent,
      count(*) filter (where delivered_at is not null)::int as delivered,
      count(*) filter (where status = 'failed')::int as failed,
      count(*) filter (where status = 'skipped')::int as skipped,
      count(*) filter (where bounced_at is not null)::int as bounced,
      count(*) filter (where bounced_at is not null and bounce_reason in ${reasonsWith('dead_address')})::int as bounced_dead,
      count(*) filter (where bounced_at is not null and bounce_reason in ${reasonsWith('sender')})::int as bounced_sender,
      count(*) filter (where complained_at is not null)::int as complained,
      count(*) filter (where opens > 0)::int as opened,
      count(*) filter (where clicks > 0)::int as clicked,
      count(*) filter (where machine_opens > 0)::int as machine_opened,
      count(*) filter (where machine_clicks > 0)::int as machine_clicked
    from ${messages}
    where ${and(...conditions)}
    group by 1 order by 1`);
  return ok(
    rows.map(
      (r): DeliveryStats => ({
        key: r.key as string | null,
        queued: Number(r.queued),
        sent: Number(r.sent),
        delivered: Number(r.delivered),
        failed: Number(r.failed),
        skipped: Number(r.skipped),
        bounced: Number(r.bounced),
        bouncedDeadAddress: Number(r.bounced_dead),
        bouncedBySender: Number(r.bounced_sender),
        complained: Number(r.complained),
        opened: Number(r.opened),
        clicked: Number(r.clicked),
        machineOpened: Number(r.machine_opened),
        machineClicked: Number(r.machine_clicked),
      }),
    ),
  );
}
