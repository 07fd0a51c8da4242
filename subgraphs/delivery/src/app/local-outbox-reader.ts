// Reading embedded mode's local outbox (the /outbox pages): only ever one organization's mail,
// the organization of the signed-in caller the route authenticated.
import { and, desc, eq, lt } from 'drizzle-orm';
import { localOutbox } from '../db/schema.ts';
import type { DeliveryDeps } from './deps.ts';
import type { LocalOutboxRow } from './local-outbox.ts';

/** Messages a page of the list shows. */
export const LOCAL_OUTBOX_PAGE = 50;

/** The organization's latest messages, 50 at a time, older than `before` when given. */
export function listLocalOutbox(
  deps: DeliveryDeps,
  organizationId: string,
  options: { before?: number } = {},
): Promise<LocalOutboxRow[]> {
  return deps.handle.db
    .select()
    .from(localOutbox)
    .where(
      and(
        eq(localOutbox.organizationId, organizationId),
        options.before ? lt(localOutbox.seq, options.before) : undefined,
      ),
    )
    .orderBy(desc(localOutbox.seq))
    .limit(LOCAL_OUTBOX_PAGE);
}

/** One of the organization's messages; undefined for another organization's, as for a missing one. */
export async function getLocalOutboxMessage(
  deps: DeliveryDeps,
  organizationId: string,
  seq: number,
): Promise<LocalOutboxRow | undefined> {
  const [row] = await deps.handle.db
    .select()
    .from(localOutbox)
    .where(and(eq(localOutbox.organizationId, organizationId), eq(localOutbox.seq, seq)));
  return row;
}
