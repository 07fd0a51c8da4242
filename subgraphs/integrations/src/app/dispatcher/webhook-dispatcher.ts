// Sends recorded webhook deliveries. Postgres holds every delivery and its due time (retries wait
// up to 3 days, longer than a queue should hold a timer), so the dispatcher is a claim loop:
// it leases due deliveries with one statement, under a transaction-scoped advisory lock so that
// dispatchers side by side respect each endpoint's concurrency limit together, and
// - skips a delivery while an earlier one of the same endpoint and ordering key (the event's
//   subject, usually a contact) is pending: per-contact order per endpoint;
// - takes at most the endpoint's max_concurrency minus what is already in flight.
// Answers are recorded in batches (flushAnswers), a few multi-row statements for all those that came
// in during the write before. A dispatcher killed mid-POST, or with answers not yet written, leaves
// their leases to run out; the deliveries are then tried again (at least once: the receiver
// deduplicates by event id, as with any webhook sender).
import { catalogue, createEvent, type EventEnvelope } from '@mauntic/kernel';
import {
  appendEvents,
  type DatabaseHandle,
  type EncryptionKey,
  isTransientError,
  type Logger,
  type OutboundGuard,
  outboundGuard,
  rowsOf,
  type Subscription,
} from '@mauntic/platform';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { outbox, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/schema.ts';
import { outcomeOf, retryDelayMs, SIGNATURE_HEADER, shouldDisable, signatureHeader } from '../../domain/webhook.ts';
import { signingSecrets, type WebhookEndpointRow } from '../webhook-endpoints.ts';
import { recordWebhookEvent, WEBHOOK_CONSUMER, WEBHOOK_SOURCE_CONTEXTS } from '../webhook-events.ts';
import { type Agents, type PostResult, postWebhook } from './post.ts';
import { pruneWebhookDeliveries } from './retention.ts';

export interface WebhookDispatcherOptions {
  handle: DatabaseHandle;
  logger: Logger;
  encryptionKey: EncryptionKey;
  /** Where endpoints may point; unset refuses every private address. */
  outbound?: OutboundGuard;
  /** Deliveries in flight at once in this dispatcher. */
  capacity?: number;
  /** How often it looks for due deliveries when nothing woke it. */
  pollMs?: number;
  /** A POST gets no longer than this, connection included. */
  timeoutMs?: number;
  /** First retry after about this long; each next one waits twice as long, up to retryCapMs. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** An endpoint is disabled after this many failed attempts in a row ... */
  disableAfterFailures?: number;
  /** ... that went on for at least this long. */
  disableAfterMs?: number;
  /** Settled deliveries (and their attempts) older than this many days are deleted, hourly. */
  retentionDays?: number;
  /** Called after each attempt (metrics). */
  onAttempt?: (outcome: 'succeeded' | 'failed', latencyMs: number) => void;
  now?: () => Date;
}

type Claimed = typeof webhookDeliveries.$inferSelect;
/** A claimed delivery with its endpoint as it was read in the claim's transaction. */
interface Lease {
  delivery: Claimed;
  endpoint: WebhookEndpointRow;
}
/** An answer waiting to be written by the next flush of the recorder. */
interface Answer extends Lease {
  result: PostResult;
  at: Date;
  done: (error?: unknown) => void;
}

/** How long a claim is this dispatcher's: the timeout and a margin to record the answer. */
const leaseMs = (timeoutMs: number) => timeoutMs + 30_000;
// Any constant: the claim lock of every dispatcher on this database.
const CLAIM_LOCK = 7_401_993_211;
/** How often the delivery log's retention runs. */
const RETENTION_INTERVAL_MS = 3600_000;
/** A late answer is recorded only this long before its lease runs out (and another may take it). */
const LEASE_MARGIN_MS = 5_000;
/** The most answers one flush of the recorder writes (about 10 parameters each). */
const RECORD_BATCH = 500;

export class WebhookDispatcher {
  private readonly settings: Required<Omit<WebhookDispatcherOptions, 'outbound' | 'onAttempt' | 'now'>>;
  private readonly agents: Agents;
  private running = false;
  private loop: Promise<void> | undefined;
  private inFlight = new Set<Promise<void>>();
  /** Answers waiting for the recorder, and its flush running, if any. */
  private answers: Answer[] = [];
  private flushing: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private retentionTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> = Promise.resolve();

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.settings = {
      handle: options.handle,
      logger: options.logger,
      encryptionKey: options.encryptionKey,
      capacity: options.capacity ?? 32,
      pollMs: options.pollMs ?? 500,
      timeoutMs: options.timeoutMs ?? 10_000,
      retryBaseMs: options.retryBaseMs ?? 30_000,
      retryCapMs: options.retryCapMs ?? 6 * 3600_000,
      disableAfterFailures: options.disableAfterFailures ?? 50,
      disableAfterMs: options.disableAfterMs ?? 24 * 3600_000,
      retentionDays: options.retentionDays ?? 30,
    };
    this.agents = (options.outbound ?? outboundGuard()).agents({ keepAlive: true, maxSockets: 64 });
  }

  /** Records a delivery per endpoint that wants the event, and wakes the loop. */
  subscription(): Subscription {
    return {
      group: WEBHOOK_CONSUMER,
      contexts: WEBHOOK_SOURCE_CONTEXTS,
      handle: async (event: EventEnvelope) => {
        if (await recordWebhookEvent(this.options, event, this.now())) this.wake();
      },
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    this.prune();
    this.retentionTimer = setInterval(() => this.prune(), RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  /** One pass of the retention (after the one before, if that is still going); errors are logged. */
  private prune(): void {
    this.pruning = this.pruning.then(async () => {
      const cutoff = new Date(this.now().getTime() - this.settings.retentionDays * 86_400_000);
      try {
        const deleted = await pruneWebhookDeliveries(this.settings.handle, cutoff);
        if (deleted) this.settings.logger.info({ deleted, cutoff }, 'deleted webhook deliveries past retention');
      } catch (error) {
        this.settings.logger.error({ err: error }, 'could not delete webhook deliveries past retention');
      }
    });
  }

  /** Stops claiming, waits for the deliveries in flight to be recorded. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.retentionTimer);
    this.wake();
    await this.loop;
    await this.pruning;
    await Promise.all(this.inFlight);
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private now() {
    return this.options.now?.() ?? new Date();
  }

  private async run(): Promise<void> {
    // Claims wait for a quarter of the capacity to be free (or the poll to come round): every
    // answer wakes the loop, and a claim per freed slot would cost more than the POST it starts.
    const minClaim = Math.max(1, Math.ceil(this.settings.capacity / 4));
    let polled = true;
    while (this.running) {
      this.woken = false;
      const room = this.settings.capacity - this.inFlight.size;
      let claimed: Lease[] = [];
      if (room > 0 && (room >= minClaim || polled)) {
        try {
          claimed = await this.claim(room);
        } catch (error) {
          this.settings.logger.error({ err: error }, 'could not claim webhook deliveries');
        }
      }
      polled = false;
      for (const lease of claimed) {
        const attempt = this.attempt(lease)
          .catch((error) =>
            this.settings.logger.error({ err: error, deliveryId: lease.delivery.id }, 'webhook attempt failed'),
          )
          .finally(() => {
            this.inFlight.delete(attempt);
            // A finished delivery may unblock the next of its contact, or free a slot.
            this.wake();
          });
        this.inFlight.add(attempt);
      }
      // A full claim likely left more: look again at once.
      if (claimed.length && claimed.length === room) continue;
      if (!this.woken && this.running)
        polled = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), this.settings.pollMs);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
      this.wakeUp = undefined;
    }
  }

  /**
   * Leases up to `limit` due deliveries that their endpoint's order and concurrency allow, and
   * reads them with their endpoints: the attempts need no query of their own before the POST.
   */
  private async claim(limit: number): Promise<Lease[]> {
    // Raw SQL parameters travel as text: postgres.js does not serialise a Date there.
    const at = this.now();
    const now = sql`${at.toISOString()}::timestamptz`;
    const leaseUntil = sql`${new Date(at.getTime() + leaseMs(this.settings.timeoutMs)).toISOString()}::timestamptz`;
    return this.settings.handle.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${CLAIM_LOCK})`);
      const result = await tx.execute(sql`
        with due as (
          select d.id, d.endpoint_id, d.seq, d.next_attempt_at
          from ${webhookDeliveries} d
          join ${webhookEndpoints} e on e.id = d.endpoint_id and e.enabled
          where d.status = 'pending' and d.next_attempt_at <= ${now}
            and (d.lease_until is null or d.lease_until <= ${now})
            and not exists (
              select 1 from ${webhookDeliveries} p
              where p.endpoint_id = d.endpoint_id and p.ordering_key = d.ordering_key
                and p.status = 'pending' and p.seq < d.seq)
          order by d.next_attempt_at, d.seq
          limit ${limit * 20}
        ),
        busy as (
          select endpoint_id, count(*)::int as n from ${webhookDeliveries}
          where status = 'pending' and lease_until > ${now}
            and endpoint_id in (select endpoint_id from due)
          group by endpoint_id
        ),
        ranked as (
          select due.id, due.next_attempt_at, due.seq,
                 row_number() over (partition by due.endpoint_id order by due.next_attempt_at, due.seq) as rank,
                 e.max_concurrency - coalesce(busy.n, 0) as room
          from due
          join ${webhookEndpoints} e on e.id = due.endpoint_id
          left join busy on busy.endpoint_id = due.endpoint_id
        )
        update ${webhookDeliveries} w
        set lease_until = ${leaseUntil}, attempts = w.attempts + 1
        where w.id in (select id from ranked where rank <= room order by next_attempt_at, seq limit ${limit})
        returning w.id, w.endpoint_id`);
      const rows = rowsOf<{ id: string; endpoint_id: string }>(result);
      if (!rows.length) return [];
      // Read in the same transaction: a lease whose rows could not be read is not taken (it would
      // hold its deliveries back until it ran out).
      const [deliveries, endpoints] = await Promise.all([
        tx
          .select()
          .from(webhookDeliveries)
          .where(
            inArray(
              webhookDeliveries.id,
              rows.map((r) => r.id),
            ),
          ),
        tx
          .select()
          .from(webhookEndpoints)
          .where(inArray(webhookEndpoints.id, [...new Set(rows.map((r) => r.endpoint_id))])),
      ]);
      const byId = new Map(endpoints.map((e) => [e.id, e]));
      return deliveries.map((delivery) => ({ delivery, endpoint: byId.get(delivery.endpointId)! }));
    });
  }

  private async attempt({ delivery, endpoint }: Lease): Promise<void> {
    const sentAt = this.now();
    const timestamp = Math.floor(sentAt.getTime() / 1000);
    const result = await postWebhook(
      this.agents,
      endpoint.url,
      {
        'user-agent': 'Mauntic-Webhooks/1',
        [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(
          signingSecrets(this.settings, endpoint, sentAt),
          timestamp,
          delivery.body,
        ),
        'mauntic-event-id': delivery.eventId,
        'mauntic-event-type': delivery.eventType,
        'mauntic-delivery-attempt': String(delivery.attempts),
      },
      delivery.body,
      this.settings.timeoutMs,
    );
    this.options.onAttempt?.(
      outcomeOf(result.statusCode).kind === 'succeeded' ? 'succeeded' : 'failed',
      result.latencyMs,
    );
    await new Promise<void>((resolve, reject) => {
      this.answers.push({
        delivery,
        endpoint,
        result,
        at: this.now(),
        done: (error) => (error === undefined ? resolve() : reject(error)),
      });
      this.flushAnswers();
    });
  }

  /**
   * Answers are written by one flush at a time: those that come in while a flush runs go together
   * in the next one, a few statements for them all rather than a transaction each.
   */
  private flushAnswers(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      while (this.answers.length) {
        const batch = this.answers.splice(0, RECORD_BATCH);
        await this.recordWithinLeases(batch);
      }
    })().finally(() => {
      this.flushing = undefined;
      // An answer pushed while the last flush was settling.
      if (this.answers.length) this.flushAnswers();
    });
  }

  /**
   * The batch written again while the database is out of reach (a restart, a failover, a dropped
   * connection), for the answers whose lease leaves time: an answer recorded late is better than
   * the POST made again once the lease runs out. Past that, the error stands for that answer.
   */
  private async recordWithinLeases(batch: Answer[]): Promise<void> {
    const leaseEnd = (a: Answer) => a.delivery.leaseUntil!.getTime() - LEASE_MARGIN_MS;
    for (let waitMs = 100; batch.length; waitMs = Math.min(waitMs * 2, 2000)) {
      try {
        await this.record(batch);
        for (const answer of batch) answer.done();
        return;
      } catch (error) {
        // An answer the database refuses (not a passing fault) must not hold back the others of
        // its batch: each is then written alone, and only that one fails.
        if (!isTransientError(error) && batch.length > 1) {
          for (const answer of batch) await this.recordWithinLeases([answer]);
          return;
        }
        const later = this.now().getTime() + waitMs;
        const transient = isTransientError(error);
        for (const answer of batch) if (!transient || later > leaseEnd(answer)) answer.done(error);
        batch = batch.filter((answer) => transient && later <= leaseEnd(answer));
        if (batch.length) await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /**
   * The attempts in the log, the deliveries' next states and their endpoints' health, in one
   * transaction: a multi-row statement for each.
   */
  private async record(answers: Answer[]): Promise<void> {
    const rows = answers.map((answer) => {
      const { delivery, result, at } = answer;
      const outcome = outcomeOf(result.statusCode);
      const failedAttempt = outcome.kind !== 'succeeded';
      const retryAt = new Date(
        at.getTime() + retryDelayMs(delivery.attempts, this.settings.retryBaseMs, this.settings.retryCapMs),
      );
      const givesUp = outcome.kind === 'gone' || retryAt > delivery.retryUntil;
      const nextAttemptAt = failedAttempt && !givesUp ? retryAt : null;
      const status = !failedAttempt ? 'succeeded' : givesUp ? 'failed' : 'pending';
      return { answer, outcome, failedAttempt, nextAttemptAt, status };
    });
    const stamp = (date: Date | null) => (date ? date.toISOString() : null);
    await this.settings.handle.db.transaction(async (tx) => {
      const values = rows.map(
        ({ answer: { delivery, result, at }, failedAttempt, nextAttemptAt, status }) =>
          sql`(${delivery.id}::uuid, ${delivery.organizationId}::uuid, ${delivery.attempts}::int, ${status},
               ${stamp(nextAttemptAt)}::timestamptz, ${result.statusCode}::int, ${result.error}::text,
               ${failedAttempt ? null : stamp(at)}::timestamptz)`,
      );
      // Only while the lease is still this attempt's (a replay or a takeover after expiry wins).
      const updated = await tx.execute(sql`
        update ${webhookDeliveries} w
        set status = v.status, next_attempt_at = v.next_attempt_at, lease_until = null,
            last_status_code = v.status_code, last_error = v.error,
            delivered_at = coalesce(v.delivered_at, w.delivered_at)
        from (values ${sql.join(values, sql`, `)})
          as v(id, organization_id, attempts, status, next_attempt_at, status_code, error, delivered_at)
        where w.id = v.id and w.organization_id = v.organization_id and w.attempts = v.attempts
        returning w.id`);
      const mine = new Set(rowsOf<{ id: string }>(updated).map((r) => r.id));
      const recorded = rows.filter((row) => mine.has(row.answer.delivery.id));
      if (!recorded.length) return;
      await tx
        .insert(webhookAttempts)
        .values(
          recorded.map(({ answer: { delivery, result, at }, nextAttemptAt }) => ({
            deliveryId: delivery.id,
            attempt: delivery.attempts,
            organizationId: delivery.organizationId,
            statusCode: result.statusCode,
            latencyMs: result.latencyMs,
            response: result.response,
            error: result.error,
            nextAttemptAt,
            attemptedAt: at,
          })),
        )
        .onConflictDoNothing();

      // Each endpoint's health after its answers in the order they came: a success resets the
      // count of failures in a row, each failure after it adds one.
      const health = new Map<
        string,
        { endpoint: WebhookEndpointRow; reset: boolean; failures: number; since: Date | null; gone: boolean; at: Date }
      >();
      for (const { answer, outcome, failedAttempt } of recorded) {
        const { endpoint, at } = answer;
        const h = health.get(endpoint.id) ?? { endpoint, reset: false, failures: 0, since: null, gone: false, at };
        if (failedAttempt) {
          h.failures++;
          h.since ??= at;
          if (outcome.kind === 'gone') h.gone = true;
        } else Object.assign(h, { reset: true, failures: 0, since: null }); // a 410 before it still disables
        if (at > h.at) h.at = at;
        health.set(endpoint.id, h);
      }
      const changes = [...health.values()].sort((a, b) => (a.endpoint.id < b.endpoint.id ? -1 : 1));
      const updates = changes.map(
        (h) =>
          sql`(${h.endpoint.id}::uuid, ${h.endpoint.organizationId}::uuid, ${h.reset}::boolean, ${h.failures}::int, ${stamp(h.since)}::timestamptz)`,
      );
      const healthRows = await tx.execute(sql`
        with v(id, organization_id, reset, failures, since) as (values ${sql.join(updates, sql`, `)}),
        -- Locked in one order: dispatchers recording answers of the same endpoints never deadlock.
        locked as (
          select e.id from ${webhookEndpoints} e join v on v.id = e.id and v.organization_id = e.organization_id
          order by e.id for update of e)
        update ${webhookEndpoints} e
        set consecutive_failures = case when v.reset then v.failures else e.consecutive_failures + v.failures end,
            failing_since = case when v.reset then v.since else coalesce(e.failing_since, v.since) end
        from v
        where e.id = v.id and e.id in (select id from locked) and (v.failures > 0 or e.consecutive_failures > 0)
        returning e.id, e.consecutive_failures as failures, e.failing_since as since`);
      const policy = { failures: this.settings.disableAfterFailures, forMs: this.settings.disableAfterMs };
      const after = new Map(
        rowsOf<{ id: string; failures: number; since: Date | string | null }>(healthRows).map((row) => [row.id, row]),
      );
      for (const h of changes) {
        const row = after.get(h.endpoint.id);
        if (!row && !h.gone) continue; // nothing changed
        const failures = row?.failures ?? h.failures;
        const since = row?.since ? new Date(row.since) : null;
        const failingForMs = since ? h.at.getTime() - since.getTime() : 0;
        const reason = h.gone
          ? 'gone'
          : h.failures && since && shouldDisable(failures, since, h.at, policy)
            ? 'failing'
            : null;
        if (reason) await this.disable(tx, h.endpoint, reason, failures, failingForMs, h.at);
      }
    });
  }

  private async disable(
    tx: Parameters<Parameters<DatabaseHandle['db']['transaction']>[0]>[0],
    endpoint: WebhookEndpointRow,
    reason: 'gone' | 'failing',
    consecutiveFailures: number,
    failingForMs: number,
    at: Date,
  ): Promise<void> {
    const [disabled] = await tx
      .update(webhookEndpoints)
      .set({
        enabled: false,
        disabledReason:
          reason === 'gone'
            ? 'the endpoint answered 410 Gone'
            : `${consecutiveFailures} failed attempts in a row over ${Math.round(failingForMs / 60_000)} min`,
        disabledAt: at,
        updatedAt: at,
      })
      // Once: concurrent failures of one endpoint disable it, and announce it, a single time.
      .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.enabled, true)))
      .returning({ id: webhookEndpoints.id });
    if (!disabled) return;
    this.settings.logger.warn({ endpointId: endpoint.id, reason, consecutiveFailures }, 'disabled a webhook endpoint');
    await appendEvents(tx, outbox, [
      createEvent(catalogue.integrations.webhookEndpointDisabled, {
        organizationId: endpoint.organizationId,
        subjectId: endpoint.id,
        correlationId: endpoint.id,
        data: { endpointId: endpoint.id, url: endpoint.url, reason, consecutiveFailures, failingForMs },
        occurredAt: at,
      }),
    ]);
  }
}
