// The delivery queue's depth at /metrics: messages waiting to be sent, across organizations (an
// operator's figure, no tenant's data). Counted when Prometheus scrapes, at most once per cacheMs
// however many scrapers there are, over the partial indexes of queued and sending messages.
import { type DatabaseHandle, type Logger, registry } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { Gauge } from 'prom-client';

export interface QueueDepth {
  /** Queued and due now: the engines' backlog. */
  due: number;
  /** Queued for later: quiet hours, retry backoff, warm-up caps. */
  deferred: number;
  /** Claimed by an engine and being sent. */
  sending: number;
}

const STATES = ['due', 'deferred', 'sending'] as const;
const DEFAULT_CACHE_MS = 5000;

/** The engines of this process that report; they share one database, so the latest one answers. */
const sources = new Set<() => Promise<QueueDepth | undefined>>();

new Gauge({
  name: 'mauntic_delivery_queue_depth',
  help: 'Messages waiting to be sent, across organizations, by state (due now, deferred to later, being sent)',
  labelNames: ['state'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const source = [...sources].at(-1);
    if (!source) return;
    // Unknown while the database does not answer: no figure rather than a failed scrape.
    const depth = await source();
    if (depth) for (const state of STATES) this.set({ state }, depth[state]);
  },
});

export async function countQueueDepth(handle: DatabaseHandle): Promise<QueueDepth> {
  const [row] = await handle.rows<Record<keyof QueueDepth, number | string>>(sql`
    select count(*) filter (where status = 'queued' and not_before <= now()) as due,
           count(*) filter (where status = 'queued' and not_before > now()) as deferred,
           count(*) filter (where status = 'sending') as sending
      from delivery.messages
     where status in ('queued', 'sending')`);
  return { due: Number(row?.due ?? 0), deferred: Number(row?.deferred ?? 0), sending: Number(row?.sending ?? 0) };
}

/** Reports the queue's depth at /metrics until the returned function is called. */
export function reportQueueDepth(
  handle: DatabaseHandle,
  logger: Logger,
  options: { cacheMs?: number } = {},
): () => void {
  const cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
  let cached: { at: number; depth: Promise<QueueDepth | undefined> } | undefined;
  const source = () => {
    if (!cached || Date.now() - cached.at >= cacheMs) {
      const depth = countQueueDepth(handle).catch((error) => {
        logger.warn({ err: error }, 'delivery queue depth unavailable');
        // Not kept: the next scrape counts again.
        if (cached?.depth === depth) cached = undefined;
        return undefined;
      });
      cached = { at: Date.now(), depth };
    }
    return cached.depth;
  };
  sources.add(source);
  return () => sources.delete(source);
}
