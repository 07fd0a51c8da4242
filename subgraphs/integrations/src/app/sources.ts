// Sources of Segment-style calls: made with a write key that is shown once and stored hashed,
// listed, rolled (a new key; the old one stops working at once) and deleted.
import { createHash, randomBytes } from 'node:crypto';
import { authorize, fail, NotFoundError, newId, ok, type RequestContext, type Result } from '@mauntic/kernel';
import { type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { sources } from '../db/schema.ts';
import type { IntegrationsDeps } from './deps.ts';

export type SourceRow = typeof sources.$inferSelect;
/** A source with its write key, as it is returned once, when the key is made. */
export type SourceWithKey = SourceRow & { writeKey: string };

export const hashWriteKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

function newWriteKey() {
  const writeKey = `wk_${randomBytes(24).toString('base64url')}`;
  return { writeKey, writeKeyHash: hashWriteKey(writeKey), writeKeyPrefix: writeKey.slice(0, 7) };
}

const createSourceInput = z.object({ name: z.string().trim().min(1).max(200) });
const idInput = z.object({ id: z.uuid() });

export async function createSource(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof createSourceInput>,
): Promise<Result<SourceWithKey>> {
  const access = authorize(ctx, 'integrations:admin', createSourceInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { writeKey, ...key } = newWriteKey();
  const [row] = await deps.handle.db
    .insert(sources)
    .values({ id: newId(), organizationId, name: input.name, ...key })
    .returning();
  return ok({ ...row!, writeKey });
}

/** A new write key for the source; calls signed with the old one are refused from now on. */
export async function rollSourceWriteKey(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof idInput>,
): Promise<Result<SourceWithKey>> {
  const access = authorize(ctx, 'integrations:admin', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { writeKey, ...key } = newWriteKey();
  const [row] = await deps.handle.db
    .update(sources)
    .set(key)
    .where(and(eq(sources.id, input.id), eq(sources.organizationId, organizationId)))
    .returning();
  return row ? ok({ ...row, writeKey }) : fail(new NotFoundError('Source', input.id));
}

export async function deleteSource(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof idInput>,
): Promise<Result<SourceRow>> {
  const access = authorize(ctx, 'integrations:admin', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [row] = await deps.handle.db
    .delete(sources)
    .where(and(eq(sources.id, input.id), eq(sources.organizationId, organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('Source', input.id));
}

export async function getSource(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  id: string,
): Promise<Result<SourceRow | null>> {
  const access = authorize(ctx, 'integrations:read', idInput, { id }, []);
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select()
    .from(sources)
    .where(and(eq(sources.id, access.value.input.id), eq(sources.organizationId, access.value.organizationId)));
  return ok(row ?? null);
}

export async function listSources(deps: IntegrationsDeps, ctx: RequestContext, window: PageWindow) {
  const access = authorize(ctx, 'integrations:read');
  if (!access.ok) return access;
  return ok(await pageOfOrganization(deps.handle.db, sources, access.value.organizationId, window));
}
