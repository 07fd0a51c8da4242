// The stepper: claims ready runs and due waiting runs of active journeys in one batch (skip
// locked, with a lease naming this executor), loads what the batch needs in one query each
// (versions once per process, contacts, segment memberships, step visits, send counts), walks
// every run in memory, and commits the whole batch at once: run updates, step log rows and outbox
// events together, in one statement (commit()). Due delays, which complete on the clock alone, are
// woken set-based instead (wakeDelays, wake-delays.ts), thousands per statement.
//
// Exactly once: the run update only applies while this executor still holds the run's lease (a
// re-claim after the lease ran out, or an interrupt from the event consumer, takes it away), and
// the step log's primary key (run, step, visit) refuses a step twice: an event is only written
// with the step log row that asked for it. An executor killed mid-batch committed nothing; its
// runs are claimed again once the lease runs out (at once when it restarts under the same name).
import {
  contextFromTraceparent,
  contextOfSpan,
  type DatabaseHandle,
  type Executor,
  type Logger,
  OUTBOX_CHANNEL,
  outboxRow,
  type Span,
  startSpan,
  traceparentOf,
  tracing,
} from '@mauntic/platform';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { journeys, journeyVersions, outbox, runs, stepLog } from '../../db/schema.ts';
import { durationMs, EMPTY_DEFINITION, journeyDefinition, type StepId } from '../../domain/definition.ts';
import { loadContacts } from './contact-state.ts';
import { enterContacts } from './enter.ts';
import type { ClaimedRun, LoadedVersion } from './run-state.ts';
import { type WakeableDelay, wakeDueDelays } from './wake-delays.ts';
import { type WalkResult, walkRun } from './walk.ts';

export interface StepperOptions {
  handle: DatabaseHandle;
  logger: Logger;
  /** This executor's name in leases; stable across restarts (the pod name). */
  owner: string;
  now: () => Date;
  batchSize?: number;
  /** Due delays woken at once by one set-based wake (wakeDelays). */
  wakeSize?: number;
  leaseMs?: number;
}

export interface BatchStats {
  claimed: number;
  /** Steps executed and committed (the step log rows written). */
  transitions: number;
  /** Runs whose results were dropped because another executor (or an interrupt) took them. */
  lost: number;
}

interface Walked {
  run: ClaimedRun;
  version: LoadedVersion;
  result: WalkResult;
  /** Tracing on, for a run that carries a trace: the walk's span (its events are its children). */
  traced?: { span: Span; traceparent: string };
}

export class Stepper {
  private readonly versions = new Map<string, LoadedVersion>();
  /** The delay steps of the versions parsed, and the versions that do not parse (wakeDelays). */
  private readonly delays: WakeableDelay[] = [];
  private readonly invalid: string[] = [];
  readonly batchSize: number;
  readonly wakeSize: number;
  private readonly leaseMs: number;

  constructor(private readonly options: StepperOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.wakeSize = options.wakeSize ?? 5000;
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  /** Gives back what this executor held when it stopped or died: its runs may be claimed at once. */
  async releaseLeases(): Promise<number> {
    const released = await this.options.handle.db
      .update(runs)
      .set({ leaseOwner: null, leaseUntil: null })
      .where(eq(runs.leaseOwner, this.options.owner))
      .returning({ id: runs.id });
    return released.length;
  }

  /** Claims, walks and commits one batch. */
  async runBatch(): Promise<BatchStats> {
    const now = this.options.now();
    const claimed = await this.claim(now);
    if (claimed.length === 0) return { claimed: 0, transitions: 0, lost: 0 };
    if (!tracing.enabled) {
      const { transitions, lost } = await this.commit(await this.walk(claimed, now), now);
      return { claimed: claimed.length, transitions, lost };
    }
    const spans = new Map(claimed.flatMap((run) => walkSpan(run)));
    try {
      const walked = await this.walk(claimed, now);
      for (const w of walked) traceWalk(w, spans.get(w.run.id));
      const { transitions, lost, kept } = await this.commit(walked, now);
      for (const { traced, run, result } of walked)
        traced?.span.setAttribute('mauntic.outcome', kept.has(run.id) ? result.run.state : 'lost');
      return { claimed: claimed.length, transitions, lost };
    } finally {
      for (const { span } of spans.values()) span.end();
    }
  }

  /**
   * Completes up to wakeSize due delays set-based, in one statement (wake-delays.ts): each run is
   * left ready at its next step for the lanes; those only the walk can handle stay due.
   * `claimed` counts the due delays picked, `transitions` the ones completed.
   */
  async wakeDelays(): Promise<BatchStats> {
    const wake = () =>
      wakeDueDelays(this.options.handle.db, {
        now: this.options.now(),
        limit: this.wakeSize,
        delays: this.delays,
        invalid: this.invalid,
      });
    let woken = await wake();
    // Runs of versions not parsed yet were left as they were: parsed now, they wake at once.
    if (woken.unknownVersions.length) {
      await this.loadVersions(woken.unknownVersions);
      const again = await wake();
      woken = { ...again, picked: woken.woken + again.picked, woken: woken.woken + again.woken };
    }
    return { claimed: woken.picked, transitions: woken.woken, lost: 0 };
  }

  /**
   * Whether more than `count` due delays of active journeys wait unleased: more than the lanes walk
   * in one round are worth waking set-based; fewer are walked as any due run, with the steps after
   * them in the same walk. Reads at most count + 1 entries of the due index.
   */
  async dueDelaysOver(count: number): Promise<boolean> {
    const [row] = await this.options.handle.rows<{ over: boolean }>(sql`
      select count(*) > ${count} as over from (
        select 1 from ${runs} r join ${journeys} j on j.id = r.journey_id
        where r.state = 'waiting' and r.due_at <= ${this.options.now().toISOString()}::timestamptz
          and j.status = 'active' and r.wait ->> 'kind' = 'delay' and (r.lease_until is null or r.lease_until < now())
        limit ${count + 1}) due`);
    return Boolean(row?.over);
  }

  /** The earliest due time among waiting runs of active journeys, read from the due index. */
  async nextDue(): Promise<Date | null> {
    const [row] = await this.options.handle.rows<{ due_at: string | Date }>(sql`
      select r.due_at from ${runs} r join ${journeys} j on j.id = r.journey_id
      where r.state = 'waiting' and r.due_at is not null and j.status = 'active'
        and (r.lease_until is null or r.lease_until < now())
      order by r.due_at limit 1`);
    return row ? new Date(row.due_at) : null;
  }

  private async claim(now: Date): Promise<ClaimedRun[]> {
    const { handle, owner } = this.options;
    const lease = `${this.leaseMs} milliseconds`;
    // Two skip-locked picks, each along its own partial index: ready runs, and due waiting runs in
    // the order they fell due (so a resumed journey runs its due steps in order).
    const rows = await handle.rows<Record<string, unknown>>(sql`
      with ready as (
        select r.id from ${runs} r join ${journeys} j on j.id = r.journey_id
        where r.state = 'ready' and j.status = 'active' and (r.lease_until is null or r.lease_until < now())
        order by r.id limit ${this.batchSize}
        for update of r skip locked
      ), due as (
        select r.id from ${runs} r join ${journeys} j on j.id = r.journey_id
        where r.state = 'waiting' and r.due_at <= ${now.toISOString()}::timestamptz and j.status = 'active'
          and (r.lease_until is null or r.lease_until < now())
        order by r.due_at limit ${this.batchSize}
        for update of r skip locked
      )
      update ${runs} r set lease_owner = ${owner}, lease_until = now() + ${lease}::interval
      where r.id = any(array(select id from ready union all select id from due))
      returning r.id, r.organization_id, r.journey_id, r.version_id, r.contact_id, r.state, r.step_id, r.visit,
        r.due_at, r.wait, r.data, r.trace_parent`);
    return rows
      .map((r) => ({
        id: r.id as string,
        organizationId: r.organization_id as string,
        journeyId: r.journey_id as string,
        versionId: r.version_id as string,
        contactId: r.contact_id as string,
        state: r.state as ClaimedRun['state'],
        stepId: r.step_id as string,
        visit: r.visit as number,
        dueAt: r.due_at ? new Date(r.due_at as string) : null,
        wait: (typeof r.wait === 'string' ? JSON.parse(r.wait) : r.wait) as ClaimedRun['wait'],
        data: (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
        traceParent: (r.trace_parent as string | null) ?? null,
      }))
      .sort((a, b) => (a.dueAt?.getTime() ?? 0) - (b.dueAt?.getTime() ?? 0));
  }

  private async walk(claimed: ClaimedRun[], now: Date): Promise<Walked[]> {
    await this.loadVersions(claimed.map((r) => r.versionId));
    // What the batch's contacts are now: fields, segments, and the companies and activity its
    // condition steps read.
    const [contactOf, visits, sends] = await Promise.all([
      loadContacts(
        this.options.handle.db,
        claimed.map((run) => ({ ...run, definition: this.versions.get(run.versionId)!.definition })),
        now,
      ),
      this.visits(claimed),
      this.sendCounts(claimed, now),
    ]);
    return claimed.map((run) => {
      const version = this.versions.get(run.versionId)!;
      const contact = contactOf(run);
      const capped = { sent: sends.get(`${run.journeyId}:${run.contactId}`) ?? 0 };
      const result = walkRun({ run, version, contact, now, visits: visits.get(run.id) ?? new Map(), capped });
      // Later runs of the same contact in this batch count this one's sends.
      sends.set(`${run.journeyId}:${run.contactId}`, capped.sent);
      return { run, version, result };
    });
  }

  /** Versions never change once published: each is read once per process. */
  private async loadVersions(ids: string[], executor: Executor = this.options.handle.db) {
    const missing = [...new Set(ids)].filter((id) => !this.versions.has(id));
    if (!missing.length) return;
    const rows = await executor.select().from(journeyVersions).where(inArray(journeyVersions.id, missing));
    for (const row of rows) {
      // (Another lane may have read it meanwhile.)
      if (this.versions.has(row.id)) continue;
      // Stored as parsed at publish; parsing again gives the same definition with its types. One
      // that does not parse fails its own runs, not the batch.
      const parsed = journeyDefinition.safeParse(row.definition);
      if (!parsed.success) this.invalid.push(row.id);
      for (const [stepId, step] of Object.entries(parsed.data?.steps ?? {}))
        if (step.type === 'delay')
          this.delays.push({ versionId: row.id, version: row.version, stepId, next: step.next });
      this.versions.set(row.id, {
        id: row.id,
        journeyId: row.journeyId,
        version: row.version,
        definition: parsed.success ? parsed.data : { ...EMPTY_DEFINITION, steps: {} },
        ...(parsed.success
          ? {}
          : { invalid: `the version's definition does not parse: ${parsed.error.message.slice(0, 500)}` }),
      });
    }
  }

  /** The highest visit logged per step, for runs that may have a history (not new ones). */
  private async visits(claimed: ClaimedRun[]): Promise<Map<string, Map<StepId, number>>> {
    // (A run woken at its start step again, through a delay that leads there, is on a later visit.)
    const resumed = claimed.filter(
      (r) =>
        r.state === 'waiting' ||
        r.wait !== null ||
        r.visit > 1 ||
        r.stepId !== this.versions.get(r.versionId)!.definition.start,
    );
    const byRun = new Map<string, Map<StepId, number>>();
    if (!resumed.length) return byRun;
    const rows = await this.options.handle.db
      .select({ runId: stepLog.runId, stepId: stepLog.stepId, visit: sql<number>`max(${stepLog.visit})::int` })
      .from(stepLog)
      .where(
        inArray(
          stepLog.runId,
          resumed.map((r) => r.id),
        ),
      )
      .groupBy(stepLog.runId, stepLog.stepId);
    for (const r of rows) {
      const steps = byRun.get(r.runId) ?? new Map<StepId, number>();
      steps.set(r.stepId, r.visit);
      byRun.set(r.runId, steps);
    }
    return byRun;
  }

  /** Messages requested per journey and contact within each capped journey's period. */
  private async sendCounts(claimed: ClaimedRun[], now: Date): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const capped = new Map<string, { per: number; contacts: Set<string> }>();
    for (const run of claimed) {
      const cap = this.versions.get(run.versionId)!.definition.settings.frequencyCap;
      if (!cap) continue;
      const entry = capped.get(run.journeyId) ?? { per: durationMs(cap.per)!, contacts: new Set<string>() };
      entry.contacts.add(run.contactId);
      capped.set(run.journeyId, entry);
    }
    for (const [journeyId, { per, contacts: ids }] of capped) {
      const rows = await this.options.handle.rows<{ contact_id: string; n: number }>(sql`
        select r.contact_id, count(*)::int as n from ${stepLog} l join ${runs} r on r.id = l.run_id
        where r.journey_id = ${journeyId} and r.contact_id = any(${`{${[...ids].join(',')}}`}::uuid[])
          and l.at > ${new Date(now.getTime() - per).toISOString()}::timestamptz
          and l.outcome ->> 'messageRequest' is not null
        group by r.contact_id`);
      for (const r of rows) counts.set(`${journeyId}:${r.contact_id}`, r.n);
    }
    return counts;
  }

  /**
   * Commits a walked batch. One statement (commitStatement) where it can: postgres.js (3.4.9)
   * crashes the process when a transaction's connection drops (it writes its ROLLBACK to the
   * closed socket), which a database restart or a terminated backend does, and an executor must
   * live through both. A batch with enter-journey steps still needs a transaction, for the
   * entries (a statement each) to commit with the steps that asked for them.
   */
  private async commit(walked: Walked[], now: Date): Promise<{ transitions: number; lost: number; kept: Set<string> }> {
    const { handle, owner } = this.options;
    const statement = this.commitStatement(walked, now);
    const written = (executor: Executor) =>
      handle
        .rows<{ id: string; logged: number }>(statement, executor)
        .then((rows) => ({ kept: new Set(rows.map((r) => r.id)), logged: rows[0]?.logged ?? 0 }));
    const { kept, logged } = walked.some((w) => w.result.enter.length > 0)
      ? await handle.db.transaction(async (tx) => {
          const done = await written(tx);
          await this.enterOtherJourneys(
            tx,
            walked.filter((w) => done.kept.has(w.run.id)),
            now,
          );
          return done;
        })
      : await written(handle.db);
    if (kept.size < walked.length)
      this.options.logger.info({ owner, lost: walked.length - kept.size }, 'runs taken over while walked; dropped');
    return { transitions: logged, lost: walked.length - kept.size, kept };
  }

  /**
   * The batch in one statement, atomic as a transaction: each run's new state where this executor
   * still holds its lease (the runs kept), the step log of the runs kept, refused for a (run, step,
   * visit) already logged, and the events of the runs kept, a step's only with its new step log row.
   * Returns a row per run kept, with the step log rows written.
   */
  private commitStatement(walked: Walked[], now: Date) {
    const runRows = walked.map(({ run, result }) => ({
      id: run.id,
      state: result.run.state,
      step_id: result.run.stepId,
      visit: result.run.visit,
      due_at: result.run.dueAt?.toISOString() ?? null,
      wait: result.run.wait,
      ended_at: result.run.endedAt?.toISOString() ?? null,
    }));
    const logRows = walked.flatMap(({ run, result }) =>
      result.logs.map((l, seq) => ({
        seq,
        run_id: run.id,
        step_id: l.stepId,
        visit: l.visit,
        organization_id: run.organizationId,
        journey_id: run.journeyId,
        status: l.status,
        outcome: l.outcome,
      })),
    );
    const eventRows = walked.flatMap(({ run, result }) =>
      result.events.map(({ event, step }) => ({
        run_id: run.id,
        step_id: step?.stepId ?? null,
        step_visit: step?.visit ?? null,
        ...outboxRow(event),
      })),
    );
    return sql`
      with kept as (
        update ${runs} r set state = v.state, step_id = v.step_id, visit = v.visit, due_at = v.due_at, wait = v.wait,
          ended_at = v.ended_at, lease_owner = null, lease_until = null
        from json_to_recordset(${JSON.stringify(runRows)}::json)
          as v(id uuid, state text, step_id text, visit int, due_at timestamptz, wait jsonb, ended_at timestamptz)
        where r.id = v.id and r.lease_owner = ${this.options.owner}
          -- The ids again as an array: the planner then reads the batch's rows by primary key
          -- rather than hashing the record set and scanning the table.
          and r.id = any(${`{${runRows.map((r) => r.id).join(',')}}`}::uuid[])
        returning r.id
      ), logged as (
        insert into ${stepLog} (run_id, step_id, visit, organization_id, journey_id, status, outcome, at)
        select run_id, step_id, visit, organization_id, journey_id, status, outcome,
          -- The steps of one walk happen at one instant; a microsecond each keeps their order readable,
          -- after a delay woken set-based at that same instant (wakeDelays logs it at the instant itself).
          ${now.toISOString()}::timestamptz + (seq + 1) * interval '1 microsecond'
        from json_to_recordset(${JSON.stringify(logRows)}::json)
          as v(seq int, run_id uuid, step_id text, visit int, organization_id uuid, journey_id uuid, status text, outcome jsonb)
        where v.run_id in (select id from kept)
        on conflict do nothing
        returning run_id, step_id, visit
      ), events as (
        insert into ${outbox} (id, organization_id, topic, key, type, envelope)
        select e.id, e.organization_id, e.topic, e.key, e.type, e.envelope
        from json_to_recordset(${JSON.stringify(eventRows)}::json)
          as e(run_id uuid, step_id text, step_visit int, id uuid, organization_id uuid, topic text, key text, type text, envelope json)
        where e.run_id in (select id from kept)
          and (e.step_id is null or (e.run_id, e.step_id, e.step_visit) in (select run_id, step_id, visit from logged))
        returning 1
      ), notified as (
        -- The journey outbox's relay woken once, on commit, when events were written.
        select pg_notify(${OUTBOX_CHANNEL}, 'journey') from events limit 1
      )
      select k.id, (select count(*)::int from logged) as logged, (select count(*)::int from notified) as notified
      from kept k`;
  }

  /** Enter journey steps: a run of the named journey (same organization, active), by its entry rule. */
  private async enterOtherJourneys(tx: Executor, mine: Walked[], now: Date) {
    const requests = mine.flatMap(({ run, result, traced }) =>
      result.enter.map((journeyId) => ({ run, journeyId, traceParent: traced?.traceparent ?? null })),
    );
    if (!requests.length) return;
    const targets = await tx
      .select({ id: journeys.id, organizationId: journeys.organizationId, versionId: journeys.currentVersionId })
      .from(journeys)
      .where(and(inArray(journeys.id, [...new Set(requests.map((r) => r.journeyId))]), eq(journeys.status, 'active')));
    // Inside the transaction: PGlite runs one at a time, so a read beside it would wait for it.
    await this.loadVersions(
      targets.flatMap((t) => (t.versionId ? [t.versionId] : [])),
      tx,
    );
    for (const { run, journeyId, traceParent } of requests) {
      const target = targets.find((t) => t.id === journeyId && t.organizationId === run.organizationId);
      const version = target?.versionId ? this.versions.get(target.versionId) : undefined;
      if (!target || !version) continue;
      await enterContacts(tx, {
        target: {
          organizationId: run.organizationId,
          journeyId,
          versionId: version.id,
          version: version.version,
          start: version.definition.start,
          entryRule: version.definition.settings.entryRule,
        },
        contacts: sql`select ${run.contactId}::uuid as contact_id`,
        trigger: 'enterJourney',
        data: run.data,
        now,
        correlationId: run.id,
        traceParent,
      });
    }
  }
}

/**
 * Tracing on: a run entered in a trace (an event, an enrollment request) is walked in a span of
 * that trace, however long after it waited, and every event of its walk (the send requests among
 * them) carries the span's context, so delivery's work and the engine's send join the same trace.
 * A span per run, not per batch: each run of a batch may come from a different trace.
 */
function walkSpan(run: ClaimedRun): [string, NonNullable<Walked['traced']>][] {
  if (!run.traceParent) return [];
  const span = startSpan('walk journey run', {
    parent: contextFromTraceparent(run.traceParent),
    attributes: { 'mauntic.journey.id': run.journeyId, 'mauntic.run.id': run.id, 'mauntic.step.id': run.stepId },
  });
  const traceparent = span && traceparentOf(contextOfSpan(span));
  return span && traceparent ? [[run.id, { span, traceparent }]] : [];
}

function traceWalk(walked: Walked, traced: Walked['traced']): void {
  if (!traced) return;
  walked.traced = traced;
  traced.span.setAttribute('mauntic.steps', walked.result.logs.length);
  walked.result.events = walked.result.events.map((e) => ({
    ...e,
    event: { ...e.event, traceparent: traced.traceparent },
  }));
}
