// The messageIds a source sent are kept for a week, then forgotten, so the dedup table stays the
// size of a week of traffic. Segment deduplicates within about a day; a call resent after a week
// is applied again. A job deletes what fell out of the window once an hour and schedules its next run.
import { defineJob, type JobQueue } from '@mauntic/platform';
import { lt } from 'drizzle-orm';
import { z } from 'zod';
import { receivedMessages } from '../db/schema.ts';
import type { IntegrationsDeps } from './deps.ts';

export const DEDUP_WINDOW_MS = 7 * 24 * 3600_000;
const EVERY_MS = 3600_000;

/** Forgets the messageIds received before the window; returns how many. */
export async function forgetOldMessageIds(deps: IntegrationsDeps, now = new Date()): Promise<number> {
  const gone = await deps.handle.db
    .delete(receivedMessages)
    .where(lt(receivedMessages.receivedAt, new Date(now.getTime() - DEDUP_WINDOW_MS)))
    .returning({ id: receivedMessages.messageId });
  return gone.length;
}

export function dedupWindowJob(deps: IntegrationsDeps, queue: JobQueue) {
  const job = defineJob({
    name: 'integrations-forget-message-ids',
    schema: z.object({}),
    handle: async () => {
      const forgotten = await forgetOldMessageIds(deps);
      if (forgotten) deps.logger.info({ forgotten }, 'forgot messageIds older than the dedup window');
      await schedule(EVERY_MS);
    },
  });
  // One run per hour slot, however many replicas schedule it.
  const schedule = (delayMs: number) =>
    queue.enqueue(job, {}, { delayMs, jobId: `forget-${Math.floor((Date.now() + delayMs) / EVERY_MS)}` });
  return { job, schedule };
}
