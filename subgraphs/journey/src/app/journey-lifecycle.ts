// Moving a journey through its lifecycle (domain/lifecycle.ts): publishing a version, pausing,
// resuming and archiving. Each move checks the status it starts from under a row lock and writes
// its event to the outbox in the same transaction.
import {
  authorize,
  type Caller,
  catalogue,
  createEvent,
  type EventEnvelope,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
} from '@mauntic/kernel';
import { appendEvents, type Transaction } from '@mauntic/platform';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { journeys, journeyVersions, outbox, runs } from '../db/schema.ts';
import { entryKeys } from '../domain/definition.ts';
import { type JourneyIssue, JourneyValidationError } from '../domain/errors.ts';
import { type JourneyAction, type JourneyStatus, transition } from '../domain/lifecycle.ts';
import { checkDefinition } from './check-definition.ts';
import type { JourneyDeps } from './deps.ts';
import { type JourneyRow, journeyEvent, lockJourney } from './journeys.ts';

const idInput = z.object({ id: z.uuid() });
type IdInput = z.input<typeof idInput>;

/**
 * The opening every move shares: the caller may write journeys, the journey exists in its
 * organization (locked until the move commits), and its status allows `action`.
 */
async function move(
  deps: JourneyDeps,
  ctx: RequestContext,
  raw: IdInput,
  action: JourneyAction,
  apply: (tx: Transaction, current: JourneyRow, next: JourneyStatus, caller: Caller) => Promise<Result<JourneyRow>>,
): Promise<Result<JourneyRow>> {
  const access = authorize(ctx, 'journey:write', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { input, ...caller } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<JourneyRow>> => {
    const current = await lockJourney(tx, caller.organizationId, input.id);
    if (!current) return fail(new NotFoundError('Journey', input.id));
    const next = transition(current.status, action);
    if (!next.ok) return next;
    return apply(tx, current, next.value!, caller);
  });
}

const setStatus = async (tx: Transaction, id: string, status: JourneyStatus) =>
  (await tx.update(journeys).set({ status, updatedAt: sql`now()` }).where(eq(journeys.id, id)).returning())[0]!;

/**
 * Snapshots the draft as version n+1, which new runs enter; runs on older versions finish on
 * theirs. A draft with any issue is refused, every issue reported.
 */
export function publishJourney(deps: JourneyDeps, ctx: RequestContext, raw: IdInput) {
  return move(deps, ctx, raw, 'publish', async (tx, current, status, caller) => {
    const { definition, issues } = await checkDefinition(
      tx,
      current.organizationId,
      current.id,
      current.definition,
      deps.now(),
    );
    // A definition that does not parse always comes with issues.
    if (!definition || issues.length)
      return fail(new JourneyValidationError(issues as [JourneyIssue, ...JourneyIssue[]]));
    const version = { id: newId(), number: current.version + 1 };
    await tx.insert(journeyVersions).values({
      id: version.id,
      organizationId: current.organizationId,
      journeyId: current.id,
      version: version.number,
      // As parsed: defaults filled in, so the executor reads exactly what was checked.
      definition,
      publishedBy: caller.userId ?? null,
    });
    const keys = entryKeys(definition);
    const [row] = await tx
      .update(journeys)
      .set({ status, currentVersionId: version.id, version: version.number, entryKeys: keys, updatedAt: sql`now()` })
      .where(eq(journeys.id, current.id))
      .returning();
    await appendEvents(tx, outbox, [
      createEvent(catalogue.journey.journeyPublished, {
        organizationId: row!.organizationId,
        subjectId: row!.id,
        correlationId: ctx.correlationId,
        data: { name: row!.name, versionId: version.id, version: version.number, entryKeys: keys },
      }),
    ]);
    return ok(row!);
  });
}

/** Runs hold where they are; timers keep their due time. */
export function pauseJourney(deps: JourneyDeps, ctx: RequestContext, raw: IdInput) {
  return move(deps, ctx, raw, 'pause', async (tx, current, status) => {
    const row = await setStatus(tx, current.id, status);
    await appendEvents(tx, outbox, [journeyEvent(ctx, row, catalogue.journey.journeyPaused)]);
    return ok(row);
  });
}

/** Runs go on: what fell due while paused is due now. */
export function resumeJourney(deps: JourneyDeps, ctx: RequestContext, raw: IdInput) {
  return move(deps, ctx, raw, 'resume', async (tx, current, status) => {
    const row = await setStatus(tx, current.id, status);
    await appendEvents(tx, outbox, [journeyEvent(ctx, row, catalogue.journey.journeyResumed)]);
    return ok(row);
  });
}

/** Events per outbox insert when archiving exits many runs at once. */
const EVENT_CHUNK = 1_000;

/** No contact enters any more, and the runs in progress exit (each with its event). */
export function archiveJourney(deps: JourneyDeps, ctx: RequestContext, raw: IdInput) {
  return move(deps, ctx, raw, 'archive', async (tx, current, status) => {
    const row = await setStatus(tx, current.id, status);
    const exited = await exitRunsInProgress(tx, current.id, deps.now());
    const events: EventEnvelope[] = [
      journeyEvent(ctx, row, catalogue.journey.journeyArchived),
      ...exited.map((run) =>
        createEvent(catalogue.journey.runExited, {
          organizationId: row.organizationId,
          subjectId: run.contactId,
          correlationId: ctx.correlationId,
          data: {
            runId: run.id,
            journeyId: row.id,
            versionId: run.versionId,
            version: run.version,
            stepId: run.stepId,
            reason: 'archived',
          },
        }),
      ),
    ];
    for (let i = 0; i < events.length; i += EVENT_CHUNK)
      await appendEvents(tx, outbox, events.slice(i, i + EVENT_CHUNK));
    return ok(row);
  });
}

/** Ends every ready or waiting run of a journey as exited, set-based; returns what it ended. */
async function exitRunsInProgress(tx: Transaction, journeyId: string, now: Date) {
  const ended = await tx
    .update(runs)
    .set({ state: 'exited', endedAt: now, dueAt: null, leaseOwner: null, leaseUntil: null })
    .where(and(eq(runs.journeyId, journeyId), inArray(runs.state, ['ready', 'waiting'])))
    .returning({ id: runs.id, contactId: runs.contactId, versionId: runs.versionId, stepId: runs.stepId });
  if (!ended.length) return [];
  const versions = new Map(
    (
      await tx
        .select({ id: journeyVersions.id, version: journeyVersions.version })
        .from(journeyVersions)
        .where(eq(journeyVersions.journeyId, journeyId))
    ).map((v) => [v.id, v.version]),
  );
  return ended.map((run) => ({ ...run, version: versions.get(run.versionId)! }));
}
