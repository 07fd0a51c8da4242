// Starting an import and following it. The uploaded CSV waits in crm.import_chunks (about 1 MB
// a row) until the background job streams it back through the engine, so the request and the
// job need no shared disk in either runtime mode.
import { Readable } from 'node:stream';
import { authorize, fail, newId, ok, type RequestContext, type Result, ValidationError } from '@mauntic/kernel';
import { defineJob } from '@mauntic/platform';
import { stringify } from 'csv-stringify/sync';
import { and, asc, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import { contactImportErrors, contactImports, importChunks } from '../db/schema.ts';
import { normalizeTag } from './contact-values.ts';
import { contactFieldMap } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { checkMapping, importContacts } from './import-contacts.ts';

export type ContactImportRow = typeof contactImports.$inferSelect;
export type ContactImportErrorRow = typeof contactImportErrors.$inferSelect;

const CHUNK_BYTES = 1024 * 1024;
const MAX_TAGS = 20;

export interface StartImportInput {
  csv: string | Readable;
  mapping: unknown;
  tags?: string[] | null;
}

export const contactImportJob = (deps: CrmDeps) =>
  defineJob({
    name: 'crm-contact-import',
    schema: z.object({ organizationId: z.uuid(), importId: z.uuid(), correlationId: z.string() }),
    // Rows already written are not written twice by a retry; a failure is shown on the import.
    attempts: 1,
    handle: async ({ organizationId, importId, correlationId }) => {
      await runQueuedImport(deps, organizationId, importId, correlationId);
    },
  });

async function* chunksOf(deps: CrmDeps, importId: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const [chunk] = await deps.handle.db
      .select({ data: importChunks.data })
      .from(importChunks)
      .where(and(eq(importChunks.importId, importId), eq(importChunks.seq, seq)));
    if (!chunk) return;
    yield Buffer.from(chunk.data);
  }
}

async function runQueuedImport(deps: CrmDeps, organizationId: string, importId: string, correlationId: string) {
  const [row] = await deps.handle.db
    .select()
    .from(contactImports)
    .where(and(eq(contactImports.id, importId), eq(contactImports.organizationId, organizationId)));
  if (row?.status !== 'queued') return;
  const ctx: RequestContext = {
    correlationId,
    actor: { type: 'system', id: 'crm-contact-import' },
    organizationId: organizationId as RequestContext['organizationId'],
    scopes: ['crm:write'],
  };
  try {
    const result = await importContacts(deps, ctx, {
      importId,
      source: Readable.from(chunksOf(deps, importId)),
      mapping: row.mapping,
      tags: row.tags,
      totalBytes: row.totalBytes,
    });
    if (!result.ok) deps.logger.warn({ importId, correlationId, error: result.error.message }, 'import refused');
  } finally {
    await deps.handle.db.delete(importChunks).where(eq(importChunks.importId, importId));
  }
}

/** Stores the CSV and queues its import; the import's progress is then on its row. */
export async function startContactImport(deps: CrmDeps, ctx: RequestContext, input: StartImportInput) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const issues = checkMapping(input.mapping, await contactFieldMap(deps, organizationId));
  const tags = [...new Set((input.tags ?? []).map(normalizeTag).filter(Boolean))];
  if (tags.length > MAX_TAGS) issues.push({ path: ['input', 'tags'], message: `at most ${MAX_TAGS} tags` });
  if (tags.some((t) => t.length > 64))
    issues.push({ path: ['input', 'tags'], message: 'tags are at most 64 characters' });
  if (issues.length) return fail(new ValidationError(issues));
  const id = newId();
  const row = await deps.handle.db.transaction(async (tx) => {
    await tx.insert(contactImports).values({
      id,
      organizationId,
      status: 'queued',
      mapping: input.mapping as Record<string, string>,
      tags,
    });
    let seq = 0;
    let total = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const store = async () => {
      if (pendingBytes === 0) return;
      await tx.insert(importChunks).values({ organizationId, importId: id, seq: seq++, data: Buffer.concat(pending) });
      total += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    const source = typeof input.csv === 'string' ? [Buffer.from(input.csv, 'utf8')] : input.csv;
    for await (const piece of source) {
      let buffer = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : (piece as Buffer);
      while (buffer.length > 0) {
        const take = Math.min(buffer.length, CHUNK_BYTES - pendingBytes);
        pending.push(buffer.subarray(0, take));
        pendingBytes += take;
        buffer = buffer.subarray(take);
        if (pendingBytes >= CHUNK_BYTES) await store();
      }
    }
    await store();
    const [stored] = await tx
      .update(contactImports)
      .set({ totalBytes: total })
      .where(eq(contactImports.id, id))
      .returning();
    return stored!;
  });
  await deps.queue.enqueue(
    contactImportJob(deps),
    { organizationId, importId: id, correlationId: ctx.correlationId },
    { jobId: `import-${id}` },
  );
  return ok(row);
}

export async function getContactImport(
  deps: CrmDeps,
  ctx: RequestContext,
  id: string,
): Promise<Result<ContactImportRow | null>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select()
    .from(contactImports)
    .where(and(eq(contactImports.id, id), eq(contactImports.organizationId, access.value.organizationId)));
  return ok(row ?? null);
}

/** How far along an import is, 0 to 100. */
export function importPercent(row: ContactImportRow): number {
  if (row.status === 'completed') return 100;
  if (!row.totalBytes) return 0;
  return Math.min(100, Math.floor((row.bytesRead / row.totalBytes) * 1000) / 10);
}

/** Rejected rows in row order, from after the given row number. */
export async function importErrorsPage(
  deps: CrmDeps,
  organizationId: string,
  importId: string,
  afterRow: number,
  limit: number,
): Promise<ContactImportErrorRow[]> {
  return deps.handle.db
    .select()
    .from(contactImportErrors)
    .where(
      and(
        eq(contactImportErrors.organizationId, organizationId),
        eq(contactImportErrors.importId, importId),
        gt(contactImportErrors.rowNumber, afterRow),
      ),
    )
    .orderBy(asc(contactImportErrors.rowNumber))
    .limit(limit);
}

/** The rejected rows as CSV (row, messages, raw), read in pages. */
export async function importErrorReportCsv(deps: CrmDeps, organizationId: string, importId: string) {
  const parts = [stringify([['row', 'messages', 'raw']])];
  for (let after = 0; ; ) {
    const page = await importErrorsPage(deps, organizationId, importId, after, 2000);
    if (page.length === 0) break;
    parts.push(stringify(page.map((e) => [e.rowNumber, e.messages.join('; '), e.raw])));
    after = page.at(-1)!.rowNumber;
  }
  return parts.join('');
}
