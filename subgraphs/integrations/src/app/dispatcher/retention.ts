// The webhook delivery log's retention: deliveries settled (succeeded, or given up) whose last
// activity is older than the retention go, with their attempts (cascade), a bounded batch per
// statement so that a large backlog never holds long locks or one huge transaction. A pending
// delivery stays whatever its age (it may still be retried or replayed), and so does one replayed
// or attempted within the retention.
import type { DatabaseHandle } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { webhookAttempts, webhookDeliveries } from '../../db/schema.ts';

export const RETENTION_BATCH = 1000;

/** Deletes the deliveries settled before `cutoff`, batch by batch; returns how many went. */
export async function pruneWebhookDeliveries(
  handle: DatabaseHandle,
  cutoff: Date,
  batchSize = RETENTION_BATCH,
): Promise<number> {
  // Raw SQL parameters travel as text: postgres.js does not serialise a Date there.
  const before = sql`${cutoff.toISOString()}::timestamptz`;
  let total = 0;
  for (;;) {
    const deleted = await handle.rows<{ id: string }>(sql`
      delete from ${webhookDeliveries} where id in (
        select d.id from ${webhookDeliveries} d
        where d.created_at < ${before} and d.status <> 'pending'
          and not exists (select 1 from ${webhookAttempts} a
                          where a.delivery_id = d.id and a.attempted_at >= ${before})
        limit ${batchSize}
        -- Dispatchers side by side prune together without waiting on each other's rows.
        for update skip locked)
      returning id`);
    total += deleted.length;
    if (deleted.length < batchSize) return total;
  }
}
