// Per-step counts of a journey (entered, completed, skipped, failed, waiting there now, and how
// many of the runs that passed it converted) and the conversion rate of each goal, computed
// set-based: one grouped query over runs, one over the step log.
import { and, count, countDistinct, eq, isNull, sql } from 'drizzle-orm';
import { journeyVersions, type RunState, runs, stepLog } from '../db/schema.ts';
import { journeyDefinition, stepsInOrder } from '../domain/definition.ts';
import type { JourneyDeps } from './deps.ts';
import type { JourneyRow } from './journeys.ts';

export interface StepStats {
  stepId: string;
  /** The step's type in the definition read; null for a step that is no longer in it. */
  type: string | null;
  entered: number;
  completed: number;
  skipped: number;
  failed: number;
  /** Runs at this step now (due, or waiting for their time or event). */
  waiting: number;
  /** Runs that passed this step and then converted. */
  converted: number;
}

export interface GoalStats {
  stepId: string;
  name: string | null;
  converted: number;
  /** Converted runs over runs that entered the journey (0 when none did). */
  rate: number;
}

export interface JourneyStats {
  entered: number;
  active: number;
  completed: number;
  converted: number;
  exited: number;
  failed: number;
  steps: StepStats[];
  goals: GoalStats[];
}

/** The stats of a journey already read (all versions, or one); for its `stats` field. */
export async function journeyStats(deps: JourneyDeps, journey: JourneyRow, version?: number): Promise<JourneyStats> {
  const { db } = deps.handle;
  // The version whose steps are listed: the one asked for, else the current one, else the draft's.
  const which =
    version !== undefined
      ? eq(journeyVersions.version, version)
      : journey.currentVersionId
        ? eq(journeyVersions.id, journey.currentVersionId)
        : undefined;
  const [chosen] = which
    ? await db
        .select({ id: journeyVersions.id, definition: journeyVersions.definition })
        .from(journeyVersions)
        .where(
          and(
            eq(journeyVersions.organizationId, journey.organizationId),
            eq(journeyVersions.journeyId, journey.id),
            which,
          ),
        )
    : [];
  if (version !== undefined && !chosen) return emptyStats();
  const scope = and(
    eq(runs.organizationId, journey.organizationId),
    eq(runs.journeyId, journey.id),
    version === undefined ? undefined : eq(runs.versionId, chosen!.id),
  );
  const [byRun, byLog] = await Promise.all([
    // Where runs are now; `unlogged`: the step they are at has not run yet (or never will).
    db
      .select({ stepId: runs.stepId, state: runs.state, unlogged: isNull(stepLog.runId).mapWith(Boolean), n: count() })
      .from(runs)
      .leftJoin(
        stepLog,
        and(eq(stepLog.runId, runs.id), eq(stepLog.stepId, runs.stepId), eq(stepLog.visit, runs.visit)),
      )
      .where(scope)
      .groupBy(runs.stepId, runs.state, isNull(stepLog.runId)),
    db
      .select({
        stepId: stepLog.stepId,
        entered: count(),
        completed: count(sql`case when ${stepLog.status} = 'completed' then 1 end`),
        skipped: count(sql`case when ${stepLog.status} = 'skipped' then 1 end`),
        failed: count(sql`case when ${stepLog.status} = 'failed' then 1 end`),
        converted: countDistinct(sql`case when ${runs.state} = 'converted' then ${runs.id} end`),
      })
      .from(stepLog)
      .innerJoin(runs, eq(runs.id, stepLog.runId))
      .where(and(eq(stepLog.organizationId, journey.organizationId), eq(stepLog.journeyId, journey.id), scope))
      .groupBy(stepLog.stepId),
  ]);
  return assemble(definitionSteps(chosen?.definition ?? journey.definition), byRun, byLog);
}

const emptyStats = (): JourneyStats => ({
  entered: 0,
  active: 0,
  completed: 0,
  converted: 0,
  exited: 0,
  failed: 0,
  steps: [],
  goals: [],
});

/** The steps of the definition read, in reading order, with their type and (for goals) name. */
function definitionSteps(raw: unknown): Map<string, { type: string; name: string | null }> {
  const parsed = journeyDefinition.safeParse(raw);
  if (!parsed.success) return new Map();
  return new Map(
    stepsInOrder(parsed.data).map((id) => {
      const s = parsed.data.steps[id]!;
      return [id, { type: s.type, name: s.type === 'goal' ? s.name : null }];
    }),
  );
}

function assemble(
  defined: Map<string, { type: string; name: string | null }>,
  byRun: { stepId: string; state: RunState; unlogged: boolean; n: number }[],
  byLog: { stepId: string; entered: number; completed: number; skipped: number; failed: number; converted: number }[],
): JourneyStats {
  const stats = emptyStats();
  const steps = new Map<string, StepStats>();
  const step = (stepId: string) => {
    let s = steps.get(stepId);
    if (!s) {
      s = {
        stepId,
        type: defined.get(stepId)?.type ?? null,
        entered: 0,
        completed: 0,
        skipped: 0,
        failed: 0,
        waiting: 0,
        converted: 0,
      };
      steps.set(stepId, s);
    }
    return s;
  };
  for (const id of defined.keys()) step(id);
  const goals = new Map<string, number>();
  for (const { stepId, state, unlogged, n } of byRun) {
    stats.entered += n;
    if (state === 'ready' || state === 'waiting') {
      stats.active += n;
      step(stepId).waiting += n;
    } else stats[state] += n;
    if (unlogged) step(stepId).entered += n;
    if (state === 'converted') goals.set(stepId, (goals.get(stepId) ?? 0) + n);
  }
  for (const { stepId, ...counts } of byLog) {
    const s = step(stepId);
    s.entered += counts.entered;
    s.completed += counts.completed;
    s.skipped += counts.skipped;
    s.failed += counts.failed;
    s.converted += counts.converted;
  }
  for (const [id, d] of defined) if (d.type === 'goal' && !goals.has(id)) goals.set(id, 0);
  stats.steps = [...steps.values()];
  stats.goals = [...goals].map(([stepId, converted]) => ({
    stepId,
    name: defined.get(stepId)?.name ?? null,
    converted,
    rate: stats.entered ? converted / stats.entered : 0,
  }));
  return stats;
}
