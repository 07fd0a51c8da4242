// Campaign use cases on a real database (Postgres or PGlite), with CRM's events applied to the
// context's copy of contacts and memberships, as the bus would deliver them.
import { catalogue, createEvent, newId, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, openDatabase, rowsOf, runMigrations } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { CampaignSender } from '../src/app/campaign-sender.ts';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { type CampaignServices, createCampaignServices } from '../src/app/services.ts';
import { campaignModule } from '../src/module.ts';

export const DATABASES = [
  ['postgres', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 5 })],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

export const logger = createLogger('campaign-test', 'silent');

/** The context on a database, with a clock tests may move and a fan-out on the same clock. */
export async function openCampaign(open: () => Promise<DatabaseHandle>) {
  const handle = await open();
  await runMigrations(handle, campaignModule().migrations);
  const clock = { now: new Date() };
  const now = () => clock.now;
  const services: CampaignServices = createCampaignServices({ handle, logger, now });
  const sender = new CampaignSender({ handle, logger, now, batchSize: 3 });
  return { handle, services, sender, clock, close: () => handle.close() };
}

export type Context = Awaited<ReturnType<typeof openCampaign>>;

/** A fresh organization and an owner-like caller for it. */
export function newOrg(): RequestContext & { organizationId: OrganizationId } {
  return {
    correlationId: newId(),
    actor: { type: 'user', id: newId() },
    organizationId: newId() as OrganizationId,
    role: 'owner',
    scopes: ['*:read', '*:write', '*:admin'],
  };
}

const crm = catalogue.crm;

/** A contact as CRM announces it, in the given segments, optionally with a time zone. */
export async function contact(
  ctx: Context,
  org: string,
  segments: string[],
  options: { timezone?: string | null } = {},
): Promise<string> {
  const id = newId();
  const deps = ctx.services.deps;
  await applyCrmEvent(
    deps,
    createEvent(crm.contactCreated, {
      organizationId: org,
      subjectId: id,
      correlationId: 'test',
      data: {
        contact: {
          email: `${id}@example.com`,
          phone: null,
          firstName: null,
          lastName: null,
          timezone: options.timezone ?? null,
          locale: null,
          fields: {},
          tags: [],
          points: 0,
          stageId: null,
          ownerId: null,
        },
      },
    }),
  );
  for (const segmentId of segments)
    await applyCrmEvent(
      deps,
      createEvent(crm.segmentEntered, {
        organizationId: org,
        subjectId: id,
        correlationId: 'test',
        data: { segmentId },
      }),
    );
  return id;
}

export interface Requested {
  contactId: string | null;
  templateId: string;
  idempotencyKey: string;
  variant: string;
  context: Record<string, unknown>;
}

/** The send requests a campaign wrote to the outbox, as delivery will read them. */
export async function requestsOf(ctx: Context, campaignId: string): Promise<Requested[]> {
  const rows = rowsOf<{ envelope: { data: Record<string, any> } | string }>(
    await ctx.handle.db.execute(sql`
      select envelope from campaign.outbox where type = 'delivery.message.requested'
        and envelope::jsonb #>> '{data,source,id}' = ${campaignId} order by seq`),
  );
  return rows.map((r) => {
    const envelope = typeof r.envelope === 'string' ? JSON.parse(r.envelope) : r.envelope;
    // As delivery's consumer reads it: a request that does not fit the catalogue fails here.
    const data = catalogue.delivery.messageRequested.data.parse(envelope.data);
    return {
      contactId: data.contactId,
      templateId: data.templateId,
      idempotencyKey: data.idempotencyKey,
      variant: data.source.stepId!,
      context: data.context,
    };
  });
}

/** The campaign's own events in the outbox, by type. */
export async function eventsOf(ctx: Context, campaignId: string): Promise<string[]> {
  const rows = rowsOf<{ type: string }>(
    await ctx.handle.db.execute(sql`select type from campaign.outbox where key = ${campaignId} order by seq`),
  );
  return rows.map((r) => r.type);
}

/** What each campaign.campaign.progressed event of the campaign said, in order. */
export async function progressOf(ctx: Context, campaignId: string): Promise<Record<string, unknown>[]> {
  const rows = rowsOf<{ envelope: { data: Record<string, unknown> } | string }>(
    await ctx.handle.db.execute(sql`select envelope from campaign.outbox
      where key = ${campaignId} and type = 'campaign.campaign.progressed' order by seq`),
  );
  return rows.map((r) => {
    const { name: _, ...counts } = (typeof r.envelope === 'string' ? JSON.parse(r.envelope) : r.envelope).data;
    return counts;
  });
}
