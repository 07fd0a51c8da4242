// Journeys as marketers edit them: a name and a draft definition, saved whether or not it is valid
// yet (its issues are reported with it), checked on demand, and read back with their versions.
import {
  authorize,
  catalogue,
  createEvent,
  type EventDefinition,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
} from '@mauntic/kernel';
import { appendEvents, type Executor, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { journeys, journeyVersions, outbox } from '../db/schema.ts';
import { EMPTY_DEFINITION } from '../domain/definition.ts';
import type { JourneyIssue } from '../domain/errors.ts';
import { JOURNEY_STATUSES, transition } from '../domain/lifecycle.ts';
import { checkDefinition } from './check-definition.ts';
import type { JourneyDeps } from './deps.ts';

export type JourneyRow = typeof journeys.$inferSelect;
export type JourneyVersionRow = typeof journeyVersions.$inferSelect;

/** A draft: any JSON object (it may be incomplete), up to 256 KB. */
const draft = z
  .record(z.string(), z.unknown())
  .refine((d) => JSON.stringify(d).length <= 262_144, 'must be at most 256 KB of JSON');

const name = z.string().trim().min(1).max(200);
const description = z.string().trim().max(2000).nullable();

export const createJourneyInput = z.object({
  name,
  description: description.optional(),
  definition: draft.optional(),
});

export const updateJourneyInput = z.object({
  id: z.uuid(),
  name: name.optional(),
  description: description.optional(),
  definition: draft.optional(),
});

const idInput = z.object({ id: z.uuid() });

/** The journey, locked for a change, in the caller's organization. */
export async function lockJourney(tx: Executor, organizationId: string, id: string): Promise<JourneyRow | undefined> {
  const [row] = await tx
    .select()
    .from(journeys)
    .where(and(eq(journeys.id, id), eq(journeys.organizationId, organizationId)))
    .for('update');
  return row;
}

/** A lifecycle event of the journey (created, paused, resumed, archived, deleted), with its name. */
export const journeyEvent = <T extends string>(
  ctx: RequestContext,
  row: JourneyRow,
  def: EventDefinition<T, { name: string }>,
) =>
  createEvent(def, {
    organizationId: row.organizationId,
    subjectId: row.id,
    correlationId: ctx.correlationId,
    data: { name: row.name },
  });

export async function createJourney(
  deps: JourneyDeps,
  ctx: RequestContext,
  raw: z.input<typeof createJourneyInput>,
): Promise<Result<JourneyRow>> {
  const access = authorize(ctx, 'journey:write', createJourneyInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(journeys)
      .values({
        id: newId(),
        organizationId,
        name: input.name,
        description: input.description ?? null,
        definition: input.definition ?? EMPTY_DEFINITION,
      })
      .returning();
    await appendEvents(tx, outbox, [journeyEvent(ctx, row!, catalogue.journey.journeyCreated)]);
    return ok(row!);
  });
}

/** Changes the draft (and the name): allowed until the journey is archived, valid or not. */
export async function updateJourney(
  deps: JourneyDeps,
  ctx: RequestContext,
  raw: z.input<typeof updateJourneyInput>,
): Promise<Result<JourneyRow>> {
  const access = authorize(ctx, 'journey:write', updateJourneyInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<JourneyRow>> => {
    const current = await lockJourney(tx, organizationId, input.id);
    if (!current) return fail(new NotFoundError('Journey', input.id));
    const move = transition(current.status, 'edit');
    if (!move.ok) return move;
    const [row] = await tx
      .update(journeys)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.definition !== undefined ? { definition: input.definition } : {}),
        updatedAt: sql`now()`,
      })
      .where(eq(journeys.id, current.id))
      .returning();
    return ok(row!);
  });
}

/** Deletes a journey never published, or an archived one, with its versions and run history. */
export async function deleteJourney(
  deps: JourneyDeps,
  ctx: RequestContext,
  raw: z.input<typeof idInput>,
): Promise<Result<JourneyRow>> {
  const access = authorize(ctx, 'journey:admin', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<JourneyRow>> => {
    const current = await lockJourney(tx, organizationId, input.id);
    if (!current) return fail(new NotFoundError('Journey', input.id));
    const move = transition(current.status, 'delete');
    if (!move.ok) return move;
    await tx.delete(journeys).where(eq(journeys.id, current.id));
    await appendEvents(tx, outbox, [journeyEvent(ctx, current, catalogue.journey.journeyDeleted)]);
    return ok(current);
  });
}

export interface JourneyValidation {
  valid: boolean;
  issues: JourneyIssue[];
}

export const validateJourneyInput = z.object({
  id: z.uuid(),
  /** A definition to check instead of the saved draft (an editor's unsaved state). */
  definition: z.unknown().optional(),
});

/** Every issue of the draft (or of the definition given), as publishing would find them. */
export async function validateJourney(
  deps: JourneyDeps,
  ctx: RequestContext,
  raw: z.input<typeof validateJourneyInput>,
): Promise<Result<JourneyValidation>> {
  const access = authorize(ctx, 'journey:read', validateJourneyInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const row = await journeyOf(deps.handle.db, organizationId, input.id);
  if (!row) return fail(new NotFoundError('Journey', input.id));
  const { issues } = await checkDefinition(
    deps.handle.db,
    organizationId,
    row.id,
    input.definition === undefined ? row.definition : input.definition,
    deps.now(),
  );
  return ok({ valid: issues.length === 0, issues });
}

/** The issues of a journey's saved draft; for the `issues` field of a journey already read. */
export async function draftIssues(deps: JourneyDeps, row: JourneyRow): Promise<JourneyIssue[]> {
  return (await checkDefinition(deps.handle.db, row.organizationId, row.id, row.definition, deps.now())).issues;
}

const journeyOf = async (db: Executor, organizationId: string, id: string) =>
  (
    await db
      .select()
      .from(journeys)
      .where(and(eq(journeys.id, id), eq(journeys.organizationId, organizationId)))
  )[0];

export async function getJourney(
  deps: JourneyDeps,
  ctx: RequestContext,
  id: string,
): Promise<Result<JourneyRow | null>> {
  const access = authorize(ctx, 'journey:read');
  if (!access.ok) return access;
  return ok((await journeyOf(deps.handle.db, access.value.organizationId, id)) ?? null);
}

export const journeyFilter = z.object({ status: z.enum(JOURNEY_STATUSES).optional() });

export async function listJourneys(
  deps: JourneyDeps,
  ctx: RequestContext,
  raw: z.input<typeof journeyFilter>,
  window: PageWindow,
) {
  const access = authorize(ctx, 'journey:read', journeyFilter, raw, ['filter']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return ok(
    await pageOfOrganization(
      deps.handle.db,
      journeys,
      organizationId,
      window,
      input.status ? eq(journeys.status, input.status) : undefined,
    ),
  );
}

/** A journey's published versions, newest first; for the `versions` field of a journey already read. */
export async function versionsOf(deps: JourneyDeps, row: JourneyRow): Promise<JourneyVersionRow[]> {
  return deps.handle.db
    .select()
    .from(journeyVersions)
    .where(and(eq(journeyVersions.organizationId, row.organizationId), eq(journeyVersions.journeyId, row.id)))
    .orderBy(desc(journeyVersions.version));
}
