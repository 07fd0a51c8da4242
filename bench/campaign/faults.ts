// The `--faults` run of `pnpm bench campaign`: the campaign sender's worker processes (the real
// main, workers/campaign-sender/src/index.ts: Postgres, the fan-out, the campaign outbox relay to
// Kafka, health and metrics) hand campaigns over to delivery while the services fail under them:
// Postgres restarted, the senders' connections terminated, the Kafka broker restarted, Redis
// restarted (the sender does not use Redis today: the fault is there so that a sender that starts
// to is covered). The audience is split into CAMPAIGNS campaigns launched one after the other; each
// fault is injected while one of them is being handed over (once a fifth of it is) and waited out
// until requests are handed over and reach Kafka again; the campaigns left after the last fault
// are launched together, so every sender has work after it. Meanwhile a consumer on Kafka records,
// per send request, the distinct events that carried it.
//
// The services restarted are the ones the environment names (bench/lib/faults.ts): point it at
// private instances when anyone else uses the default ones.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { createCampaignServices } from '@mauntic/campaign/services';
import { catalogue, newId, type RequestContext, unwrap } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, KafkaEventBus, sql } from '@mauntic/platform';
import { countRecovered, metricOf, serviceFaults, startWorkers, untilTrue } from '../lib/faults.ts';

const WORKER = fileURLToPath(new URL('../../workers/campaign-sender/src/index.ts', import.meta.url));
const processes = Number(process.env.BENCH_SENDERS ?? 2);
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
/** The senders' name in pg_stat_activity (openDatabaseFromEnv in the worker's main). */
const SENDER_APPLICATION = 'campaign-sender';
/** The sender's counter of requests handed over (workers/campaign-sender/src/metrics.ts). */
const REQUESTS_METRIC = 'mauntic_campaign_requests_total';
export const CAMPAIGNS = 10;
/** The campaign each fault is injected during (by index); those after the last go out together. */
const FAULT_DURING = [1, 2, 3, 4];
/** How long one fault may take to settle before the run notes it and moves on. */
const SETTLE_MS = 120_000;
// The small run (the test command's) gives up sooner, so a stuck run cannot hold CI for long.
const DEADLINE_MS = (process.env.BENCH_SIZE === 'small' ? 8 : 30) * 60_000;

export interface CampaignFaultRun {
  handle: DatabaseHandle;
  owner: RequestContext & { organizationId: string };
  services: ReturnType<typeof createCampaignServices>;
  /** The drafts, in launch order, and how many recipients they have together. */
  campaigns: string[];
  size: number;
  databaseUrl: string;
}

export interface CampaignFaultResult {
  seconds: number;
  faults: string[];
  planned: number;
  /** Faults injected while their campaign was being handed over (not between two campaigns). */
  duringLaunch: number;
  unsettled: string[];
  senders: number;
  /** Senders that never exited, answer /readyz and handed requests over after the last fault. */
  sendersRecovered: number;
  /** Requests written twice to the outbox, or carried to Kafka by two distinct events. */
  duplicates: number;
  /** Recipients never requested, or whose request never reached Kafka. */
  lost: number;
  detail: Record<string, number>;
}

export async function runWithFaults(run: CampaignFaultRun): Promise<CampaignFaultResult> {
  const { handle, owner, services, campaigns, size } = run;
  const org = owner.organizationId;
  const logDir = mkdtempSync(join(tmpdir(), 'bench-campaign-faults-'));
  const topicPrefix = `mauntic-bench-cfaults-${newId().slice(-12)}`;
  const bus = await startRequestCount(org, topicPrefix);
  const workers = await startWorkers({
    main: WORKER,
    processes,
    env: {
      ...process.env,
      DATABASE_URL: run.databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC_PREFIX: topicPrefix,
      // Small batches, so that a campaign takes long enough to hand over for a fault to land in it.
      SENDER_BATCH_SIZE: String(Math.max(10, Math.floor(size / CAMPAIGNS / 100))),
      SENDER_POLL_MS: '20',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    runningLine: 'campaign sender running',
    dir: logDir,
    label: 'sender',
  });
  const list = serviceFaults(handle, { application: SENDER_APPLICATION, label: 'sender' });

  const t0 = performance.now();
  const faults: string[] = [];
  const unsettled: string[] = [];
  let duringLaunch = 0;
  let launched = 0;
  let before: (number | null)[] = [];
  /** The fault last injected, until requests are handed over and reach Kafka after it. */
  let settling: { name: string; requested: number; events: number; since: number } | null = null;
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    // The database restarts under this loop too: a failed look is looked at again.
    const states = await progress(handle, campaigns).catch(() => null);
    if (states) {
      const requested = states.reduce((sum, c) => sum + c.requested, 0);
      if (settling && requested > settling.requested && bus.received() > settling.events) settling = null;
      else if (settling && Date.now() - settling.since > SETTLE_MS) {
        process.stderr.write(
          `[bench campaign --faults] ${settling.name} not settled after ${SETTLE_MS / 1000} s: requests ${settling.requested} -> ${requested}, events ${settling.events} -> ${bus.received()}\n`,
        );
        unsettled.push(settling.name);
        settling = null;
      }
      // A fault once its campaign is a fifth handed over (or done, if it went faster than this loop).
      const next = list[faults.length];
      const during = FAULT_DURING[faults.length];
      const target = during !== undefined && during < launched ? states[during]! : null;
      if (!settling && next && target) {
        const midway = target.status === 'sending' && target.requested < (target.recipients ?? 0);
        if (target.status === 'completed' || (midway && target.requested >= (target.recipients ?? 0) / 5)) {
          process.stderr.write(
            `[bench campaign --faults] ${next.name} at ${target.requested} of ${target.recipients} of campaign ${during}\n`,
          );
          const events = bus.received();
          await next.inject();
          faults.push(next.name);
          if (midway) duringLaunch++;
          settling = { name: next.name, requested, events, since: Date.now() };
          // What each sender had handed over when the last fault struck: it must hand over more.
          if (faults.length === list.length)
            before = await Promise.all(workers.list.map((w) => metricOf(w, REQUESTS_METRIC)));
        }
      }
      // One campaign at a time, each once the one before completed and, when a fault was planned
      // during it, that fault was injected; after the last fault, the rest at once.
      const last = FAULT_DURING.at(-1)!;
      const previous = launched - 1;
      const planned = FAULT_DURING.indexOf(previous);
      const ready =
        launched > last
          ? faults.length === list.length
          : launched === 0 || (states[previous]!.status === 'completed' && faults.length > planned);
      const upTo = launched > last ? campaigns.length : launched + 1;
      if (ready)
        for (; launched < upTo; launched++) {
          // Postgres may be away: tried again on the next turn.
          const result = await services.launchCampaign(owner, { id: campaigns[launched]! }).catch(() => null);
          if (!result) break;
          unwrap(result);
        }
      const finished =
        launched === campaigns.length &&
        !settling &&
        faults.length === list.length &&
        states.every((c) => c.status === 'completed');
      if (finished) {
        // Every request in the outbox reaches Kafka (the relay lives in the senders).
        await untilTrue(async () => (await sendKeys(handle, org).catch(() => -1)) <= bus.sendKeys(), SETTLE_MS);
        break;
      }
    }
    if (workers.list.some((w) => w.exited)) {
      process.stderr.write('[bench campaign --faults] a sender exited; stopping the run\n');
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - t0) / 1000;
  const sendersRecovered = await countRecovered(workers, before, REQUESTS_METRIC, {
    bench: 'campaign',
    label: 'sender',
    dir: logDir,
  });
  await workers.stop();
  await bus.stop();
  const counts = await countOutcome(handle, org, bus, size);
  const ok = sendersRecovered === processes && faults.length === list.length && unsettled.length === 0;
  if (ok && counts.duplicates + counts.lost === 0) rmSync(logDir, { recursive: true, force: true });
  else process.stderr.write(`[bench campaign --faults] senders' logs in ${logDir}\n`);
  return {
    seconds,
    faults,
    planned: list.length,
    duringLaunch,
    unsettled,
    senders: processes,
    sendersRecovered,
    ...counts,
  };
}

/** Each campaign's status and hand-off, in launch order. */
async function progress(handle: DatabaseHandle, ids: string[]) {
  const rows = await handle.rows<{ id: string; status: string; requested: number; recipients: number | null }>(sql`
    select id, status, requested_count as requested, recipient_count as recipients
    from campaign.campaigns where id = any(${`{${ids.join(',')}}`}::uuid[])`);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)!);
}

async function countOutcome(handle: DatabaseHandle, org: string, bus: RequestCount, size: number) {
  const [row] = await handle.rows<{ requests: number; keys: number; marked: number; completed: number }>(sql`
    select
      (select count(*)::int from campaign.outbox where organization_id = ${org} and type = 'delivery.message.requested') as requests,
      (select count(distinct envelope::jsonb #>> '{data,idempotencyKey}')::int from campaign.outbox
       where organization_id = ${org} and type = 'delivery.message.requested') as keys,
      (select count(*)::int from campaign.recipients where organization_id = ${org} and requested_at is not null) as marked,
      (select count(*)::int from campaign.campaigns where organization_id = ${org} and status = 'completed') as completed`);
  const c = row!;
  return {
    duplicates: c.requests - c.keys + bus.sendKeysTwice(),
    lost: size - c.keys + Math.max(0, c.keys - bus.sendKeys()),
    detail: {
      requests: c.requests,
      recipients_marked_requested: c.marked,
      campaigns_completed: c.completed,
      requests_on_kafka: bus.sendKeys(),
      requested_twice_on_kafka: bus.sendKeysTwice(),
      event_redeliveries: bus.redeliveries(),
    },
  };
}

async function sendKeys(handle: DatabaseHandle, org: string): Promise<number> {
  const [row] = await handle.rows<{ n: number }>(sql`
    select count(distinct envelope::jsonb #>> '{data,idempotencyKey}')::int as n
    from campaign.outbox where organization_id = ${org} and type = 'delivery.message.requested'`);
  return row!.n;
}

interface RequestCount {
  /** Send requests of the run that reached the consumer, redeliveries included. */
  received(): number;
  /** Send requests (idempotency keys) that reached it. */
  sendKeys(): number;
  /** Send requests that reached it as two or more distinct events: a message requested twice. */
  sendKeysTwice(): number;
  /** Deliveries of an event already received (at-least-once at work, not a duplicate). */
  redeliveries(): number;
  stop(): Promise<void>;
}

/** A consumer of delivery's topic that records, per send request, the distinct events carrying it. */
async function startRequestCount(org: string, topicPrefix: string): Promise<RequestCount> {
  const bus = new KafkaEventBus({
    brokers,
    clientId: 'bench-campaign-faults',
    topicPrefix,
    logger: createLogger('bench-campaign-faults', 'silent'),
  });
  const eventsBySend = new Map<string, Set<string>>();
  const seen = new Set<string>();
  let received = 0;
  bus.subscribe({
    group: `bench-campaign-faults-${newId()}`,
    contexts: ['delivery'],
    types: [catalogue.delivery.messageRequested.type],
    handle: async (event) => {
      if (event.organizationId !== org) return;
      received++;
      seen.add(event.id);
      const { idempotencyKey } = catalogue.delivery.messageRequested.data.parse(event.data);
      const ids = eventsBySend.get(idempotencyKey) ?? new Set<string>();
      ids.add(event.id);
      eventsBySend.set(idempotencyKey, ids);
    },
  });
  await bus.start();
  return {
    received: () => received,
    sendKeys: () => eventsBySend.size,
    sendKeysTwice: () => [...eventsBySend.values()].filter((ids) => ids.size > 1).length,
    redeliveries: () => received - seen.size,
    stop: () => bus.stop(),
  };
}
