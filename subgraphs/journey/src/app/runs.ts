// Runs as the API shows them: a page of an organization's runs, filtered by journey, version,
// contact and state, and each run's step log.
import { authorize, ok, type RequestContext } from '@mauntic/kernel';
import { type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, asc, eq, inArray, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { journeyVersions, RUN_STATES, runs, stepLog } from '../db/schema.ts';
import type { JourneyDeps } from './deps.ts';

/** A run with the number of the version it walks. */
export type RunRow = typeof runs.$inferSelect & { version: number };
export type StepLogRow = typeof stepLog.$inferSelect;

export const runFilter = z.object({
  journeyId: z.uuid().optional(),
  /** A version number; with a journey, that journey's version, else that version of every journey. */
  version: z.number().int().min(1).max(1_000_000).optional(),
  contactId: z.uuid().optional(),
  state: z.enum(RUN_STATES).optional(),
});

export async function listRuns(
  deps: JourneyDeps,
  ctx: RequestContext,
  raw: z.input<typeof runFilter>,
  window: PageWindow,
) {
  const access = authorize(ctx, 'journey:read', runFilter, raw, ['filter']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const conditions: SQL[] = [];
  if (input.journeyId) conditions.push(eq(runs.journeyId, input.journeyId));
  if (input.contactId) conditions.push(eq(runs.contactId, input.contactId));
  if (input.state) conditions.push(eq(runs.state, input.state));
  if (input.version !== undefined) {
    const versions = deps.handle.db
      .select({ id: journeyVersions.id })
      .from(journeyVersions)
      .where(
        and(
          eq(journeyVersions.organizationId, organizationId),
          eq(journeyVersions.version, input.version),
          input.journeyId ? eq(journeyVersions.journeyId, input.journeyId) : undefined,
        ),
      );
    conditions.push(inArray(runs.versionId, versions));
  }
  const page = await pageOfOrganization(deps.handle.db, runs, organizationId, window, and(...conditions));
  const numbers = await versionNumbers(deps, organizationId, [...new Set(page.edges.map((e) => e.node.versionId))]);
  return ok({
    ...page,
    edges: page.edges.map((e) => ({ ...e, node: { ...e.node, version: numbers.get(e.node.versionId)! } })),
  });
}

/** What each step did for a run, in order; for the `steps` field of a run already read. */
export function stepsOf(deps: JourneyDeps, run: RunRow): Promise<StepLogRow[]> {
  return deps.handle.db
    .select()
    .from(stepLog)
    .where(and(eq(stepLog.organizationId, run.organizationId), eq(stepLog.runId, run.id)))
    .orderBy(asc(stepLog.at), asc(stepLog.visit));
}

async function versionNumbers(deps: JourneyDeps, organizationId: string, versionIds: string[]) {
  if (!versionIds.length) return new Map<string, number>();
  const rows = await deps.handle.db
    .select({ id: journeyVersions.id, version: journeyVersions.version })
    .from(journeyVersions)
    .where(and(eq(journeyVersions.organizationId, organizationId), inArray(journeyVersions.id, versionIds)));
  return new Map(rows.map((r) => [r.id, r.version]));
}
