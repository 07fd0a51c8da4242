// Enrolling contacts by API: one contact, or every member of a segment at once (set-based), into
// an active journey whose newest version has an `api` entry trigger. Its entry rule applies as it
// does to any trigger: a contact the rule keeps out is not enrolled, and that is not an error.
import { authorize, ConflictError, fail, NotFoundError, ok, type RequestContext } from '@mauntic/kernel';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { contacts, journeys, journeyVersions, segmentMemberships, segments } from '../db/schema.ts';
import { journeyDefinition } from '../domain/definition.ts';
import type { JourneyDeps } from './deps.ts';
import { type EntryTarget, enterContacts } from './executor/enter.ts';

const data = z
  .record(z.string(), z.unknown())
  .refine((d) => JSON.stringify(d).length <= 32_768, 'must be at most 32 KB of JSON');

export const enrollContactInput = z.object({ journeyId: z.uuid(), contactId: z.uuid(), data: data.optional() });
export const enrollSegmentInput = z.object({ journeyId: z.uuid(), segmentId: z.uuid(), data: data.optional() });

/**
 * The journey's newest version, when contacts may be enrolled into it by API; a conflict when the
 * journey is not active or that version has no `api` trigger.
 */
async function enrollable(deps: JourneyDeps, organizationId: string, journeyId: string) {
  const [row] = await deps.handle.db
    .select({
      status: journeys.status,
      versionId: journeyVersions.id,
      version: journeyVersions.version,
      definition: journeyVersions.definition,
    })
    .from(journeys)
    .leftJoin(journeyVersions, eq(journeyVersions.id, journeys.currentVersionId))
    .where(and(eq(journeys.organizationId, organizationId), eq(journeys.id, journeyId)));
  if (!row) return fail(new NotFoundError('Journey', journeyId));
  if (row.status !== 'active' || !row.versionId)
    return fail(new ConflictError(`the journey is ${row.status === 'draft' ? 'not published' : row.status}`));
  const definition = journeyDefinition.parse(row.definition);
  if (!definition.entry.some((t) => t.type === 'api'))
    return fail(new ConflictError('the journey has no api entry trigger'));
  const target: EntryTarget = {
    organizationId,
    journeyId,
    versionId: row.versionId,
    version: row.version!,
    start: definition.start,
    entryRule: definition.settings.entryRule,
  };
  return ok(target);
}

/** Enrolls one contact of the caller's organization; `runId` is null when the entry rule kept it out. */
export async function enrollContact(deps: JourneyDeps, ctx: RequestContext, raw: z.input<typeof enrollContactInput>) {
  const access = authorize(ctx, 'journey:write', enrollContactInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const target = await enrollable(deps, organizationId, input.journeyId);
  if (!target.ok) return target;
  const [contact] = await deps.handle.db
    .select({ id: contacts.id })
    .from(contacts)
    .where(
      and(eq(contacts.organizationId, organizationId), eq(contacts.id, input.contactId), eq(contacts.deleted, false)),
    );
  if (!contact) return fail(new NotFoundError('Contact', input.contactId));
  const [entered] = await enterContacts(deps.handle.db, {
    target: target.value,
    contacts: sql`select ${contact.id}::uuid as contact_id`,
    trigger: 'api',
    data: input.data ?? {},
    now: deps.now(),
    correlationId: ctx.correlationId,
  });
  return ok({ journeyId: input.journeyId, contactId: contact.id, runId: entered?.runId ?? null });
}

/** Enrolls every current member of one of the organization's segments; returns how many entered. */
export async function enrollSegment(deps: JourneyDeps, ctx: RequestContext, raw: z.input<typeof enrollSegmentInput>) {
  const access = authorize(ctx, 'journey:write', enrollSegmentInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const target = await enrollable(deps, organizationId, input.journeyId);
  if (!target.ok) return target;
  // The segment copy is fed by CRM's segment events; memberships alone also prove the segment.
  const [known] = await deps.handle.rows<{ known: boolean }>(sql`
    select exists (select 1 from ${segments} where ${segments.organizationId} = ${organizationId}
                     and ${segments.id} = ${input.segmentId} and not ${segments.deleted})
        or exists (select 1 from ${segmentMemberships} where ${segmentMemberships.organizationId} = ${organizationId}
                     and ${segmentMemberships.segmentId} = ${input.segmentId}) as known`);
  if (!known?.known) return fail(new NotFoundError('Segment', input.segmentId));
  const entered = await enterContacts(deps.handle.db, {
    target: target.value,
    contacts: sql`select m.contact_id from ${segmentMemberships} m
      join ${contacts} c on c.id = m.contact_id and c.organization_id = m.organization_id and not c.deleted
      where m.organization_id = ${organizationId} and m.segment_id = ${input.segmentId}`,
    trigger: 'api',
    data: input.data ?? {},
    now: deps.now(),
    correlationId: ctx.correlationId,
  });
  return ok({ journeyId: input.journeyId, segmentId: input.segmentId, entered: entered.length });
}
