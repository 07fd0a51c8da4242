// Drives the real delivery engine (workers/delivery-engine) over a test database, so application
// tests can produce sent messages the way production does: claimed, rendered, tracked, sent.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@mauntic/kernel';
import type { OutboundGuard } from '@mauntic/platform';
import { createEngine } from '../../../workers/delivery-engine/src/create-engine.ts';
import type { DeliveryEngine } from '../../../workers/delivery-engine/src/engine.ts';
import { Journal, journalFile } from '../../../workers/delivery-engine/src/journal.ts';
import type { WarmupCounters } from '../src/app/sending-ips.ts';
import { createMemoryRateLimiter, type PostfixInstance } from '../src/providers/index.ts';
import { LOOPBACK_ALLOWED, type openDelivery, PUBLIC_BASE_URL } from './harness.ts';

type Env = Awaited<ReturnType<typeof openDelivery>>;

export function startEngineFor(
  env: Env,
  options: {
    localOutbox?: boolean;
    lanes?: number;
    batchSize?: number;
    sendConcurrency?: number;
    /** Where providers may connect: loopback, where the tests' servers listen, unless given. */
    outbound?: OutboundGuard;
    /** The engine's clock (warm-up windows, reputation decay). */
    now?: () => Date;
    /** The sending IPs' warm-up counters; in memory unless given. */
    warmupCounters?: WarmupCounters;
    /** Where POSTFIX providers send. */
    postfixInstances?: PostfixInstance[];
  } = {},
): DeliveryEngine {
  return createEngine({
    handle: env.handle,
    logger: env.logger,
    limiter: createMemoryRateLimiter(),
    encryptionKey: env.keys.encryptionKey,
    trackingKey: env.keys.trackingKey,
    publicBaseUrl: PUBLIC_BASE_URL,
    outbound: options.outbound ?? LOOPBACK_ALLOWED,
    owner: `engine-${newId()}`,
    journalDir: mkdtempSync(join(tmpdir(), 'journal-')),
    batchSize: options.batchSize ?? 50,
    lanes: options.lanes ?? 2,
    sendConcurrency: options.sendConcurrency ?? 4,
    pollMs: 20,
    ...(options.localOutbox ? { localOutbox: true } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.warmupCounters ? { warmupCounters: options.warmupCounters } : {}),
    ...(options.postfixInstances ? { postfixInstances: options.postfixInstances } : {}),
  });
}

/** Runs batches until nothing is left to claim now. */
export async function drain(engine: DeliveryEngine): Promise<void> {
  const journal = new Journal(journalFile(mkdtempSync(join(tmpdir(), 'drain-')), 'drain', 0));
  while ((await engine.runBatch(journal)) > 0);
  journal.close();
}
