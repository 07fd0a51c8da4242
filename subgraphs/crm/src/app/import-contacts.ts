// Importing contacts from a CSV file. Starting an import stores the upload in crm.import_chunks
// (about 1 MB a row) and queues a job, so the request and the job need no shared disk in either
// runtime mode. The job streams the file through csv-parse, checks each row like any other
// contact write, and upserts valid rows by email in batches of one set-based statement each
// (contacts and their created/updated events together). Rejected rows go to an error table with
// their row number; progress is stored per batch; dynamic segments are rebuilt once at the end.
import { Readable } from 'node:stream';
import {
  authorize,
  catalogue,
  createEvent,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, defineJob, OUTBOX_CHANNEL, rowsOf } from '@mauntic/platform';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { z } from 'zod';
import {
  type BatchRow,
  type BatchTarget,
  errorsSql,
  progressSql,
  type RowError,
  upsertBatchSql,
} from '../db/import-batches.ts';
import { contactImportErrors, contactImports, importChunks, outbox } from '../db/schema.ts';
import { organizationReferences } from './contact-references.ts';
import { normalizeTag } from './contact-values.ts';
import { contactFieldMap } from './contacts.ts';
import { csvLines } from './csv-text.ts';
import type { CrmDeps } from './deps.ts';
import {
  type CsvRowReader,
  checkMapping,
  convertRow,
  laneOf,
  type ParsedRow,
  readCsvRows,
  standardColumnsOf,
} from './import-rows.ts';
import { dependencyLevels, loadDynamicSegments, rebuildSegment, segmentLockKey } from './segment-membership.ts';

export type ContactImportRow = typeof contactImports.$inferSelect;
export type ContactImportErrorRow = typeof contactImportErrors.$inferSelect;

export const DEFAULT_BATCH_SIZE = 5000;
export const DEFAULT_LANES = 3;
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

export interface ImportRequest {
  importId: string;
  source: Readable;
  /** CSV column -> `email`, `firstName`, ... or `fields.<key>`. Unmapped columns are ignored. */
  mapping: Record<string, string>;
  /** Added to every imported contact. */
  tags?: string[];
  /** Size of the source, when known, for the percentage. */
  totalBytes?: number | null;
  batchSize?: number;
  /** Batches written at once (each on its own connection). */
  lanes?: number;
}

export interface ImportSummary {
  importId: string;
  status: 'completed' | 'failed';
  rowsDone: number;
  rowsFailed: number;
  rowsCreated: number;
  rowsUpdated: number;
  /** Why the whole import stopped, when it did. */
  error: string | null;
}

/**
 * Imports contacts from a CSV stream into the caller's organization. Row problems are recorded,
 * not thrown; a file that cannot be read as CSV ends the import as failed.
 */
export async function importContacts(deps: CrmDeps, ctx: RequestContext, request: ImportRequest) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const { importId } = request;
  const tags = [...new Set((request.tags ?? []).map(normalizeTag).filter(Boolean))];
  if (!(await markImportRunning(deps, organizationId, request, tags)))
    return fail(new NotFoundError('ContactImport', importId));
  const finish = (summary: Omit<ImportSummary, 'importId'>) =>
    finishImport(deps, organizationId, importId, ctx.correlationId, summary);

  const definitions = await contactFieldMap(deps, organizationId);
  const mappingIssues = checkMapping(request.mapping, definitions, ['mapping']);
  if (mappingIssues.length) {
    const error = new ValidationError(mappingIssues);
    await finish({
      status: 'failed',
      error: error.message,
      rowsDone: 0,
      rowsFailed: 0,
      rowsCreated: 0,
      rowsUpdated: 0,
    });
    return fail(error);
  }
  const references = await organizationReferences(deps.handle.db, organizationId);
  const columnOf = new Map(Object.entries(request.mapping).map(([column, target]) => [target, column]));
  const batch: BatchTarget = {
    organizationId,
    importId,
    correlationId: ctx.correlationId,
    actor: 'id' in ctx.actor ? ctx.actor.id : null,
    tags,
    mappedColumns: standardColumnsOf(request.mapping),
  };

  const csv = readCsvRows(request.source, request.mapping);
  const totals = { rowsDone: 0, rowsFailed: 0, rowsCreated: 0, rowsUpdated: 0 };
  const lanes = batchLanes(
    request.lanes ?? DEFAULT_LANES,
    request.batchSize ?? DEFAULT_BATCH_SIZE,
    async (valid, errors) => {
      const { created, updated } = await writeBatch(deps, batch, valid, errors, csv.bytesRead);
      totals.rowsDone += valid.length;
      totals.rowsFailed += errors.length;
      totals.rowsCreated += created;
      totals.rowsUpdated += updated;
    },
  );
  // A file that is not CSV (or lacks a mapped column) ends the import as failed; that is its
  // outcome, not a crash. A database failure is unexpected and goes up once the import is marked.
  let unreadable: Error | undefined;
  try {
    unreadable = await feedLanes(csv, lanes, (row) => convertRow(row, csv.columns, definitions, references, columnOf));
    await lanes.writeAll(csv.takeSkipped());
  } catch (error) {
    await lanes.settle();
    await finish({ status: 'failed', error: error instanceof Error ? error.message : String(error), ...totals });
    throw error;
  }

  if (totals.rowsDone > 0) await rebuildDynamicSegments(deps, organizationId, ctx.correlationId);
  return ok<ImportSummary>(
    await finish(
      unreadable
        ? { status: 'failed', error: unreadable.message, ...totals }
        : { status: 'completed', error: null, ...totals },
    ),
  );
}

/** The import's row, created or taken over as running; false when the id is another organization's. */
async function markImportRunning(deps: CrmDeps, organizationId: string, request: ImportRequest, tags: string[]) {
  const started = await deps.handle.rows<{ id: string }>(sql`
    insert into crm.contact_imports as i (id, organization_id, status, mapping, tags, total_bytes)
    values (${request.importId}, ${organizationId}, 'running', ${JSON.stringify(request.mapping)}::jsonb,
      array(select jsonb_array_elements_text(${JSON.stringify(tags)}::jsonb)), ${request.totalBytes ?? null})
    on conflict (id) do update set status = 'running', total_bytes = coalesce(excluded.total_bytes, i.total_bytes)
      where i.organization_id = ${organizationId}
    returning id`);
  return started.length > 0;
}

/** The import's end, with its crm.import.finished event (the totals as stored, every batch counted). */
async function finishImport(
  deps: CrmDeps,
  organizationId: string,
  importId: string,
  correlationId: string,
  summary: Omit<ImportSummary, 'importId'>,
): Promise<ImportSummary> {
  await deps.handle.db.transaction(async (tx) => {
    const [row] = rowsOf<ImportTotalsRow>(
      await tx.execute(sql`
        update crm.contact_imports set status = ${summary.status}, error = ${summary.error}, finished_at = now(),
          bytes_read = case when ${summary.status} = 'completed' then coalesce(total_bytes, bytes_read) else bytes_read end
        where id = ${importId} and organization_id = ${organizationId}
        returning rows_done, rows_failed, rows_created, rows_updated, bytes_read, total_bytes`),
    );
    if (!row) return;
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.importFinished, {
        organizationId,
        subjectId: importId,
        correlationId,
        data: { ...totalsOf(row), status: summary.status, error: summary.error },
      }),
    ]);
  });
  return { importId, ...summary };
}

interface ImportTotalsRow {
  rows_done: number;
  rows_failed: number;
  rows_created: number;
  rows_updated: number;
  bytes_read: number | string;
  total_bytes: number | string | null;
}

const totalsOf = (row: ImportTotalsRow) => ({
  rowsDone: Number(row.rows_done),
  rowsFailed: Number(row.rows_failed),
  rowsCreated: Number(row.rows_created),
  rowsUpdated: Number(row.rows_updated),
});

/** One batch in one transaction: its statements, then the import's progress. */
async function writeBatch(deps: CrmDeps, batch: BatchTarget, valid: BatchRow[], errors: RowError[], bytesRead: number) {
  return deps.handle.db.transaction(async (tx) => {
    let created = 0;
    let updated = 0;
    if (valid.length) {
      const [counts] = rowsOf<{ created: number; updated: number }>(await tx.execute(upsertBatchSql(batch, valid)));
      created = counts?.created ?? 0;
      updated = counts?.updated ?? 0;
      await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, 'crm')`);
    }
    if (errors.length) await tx.execute(errorsSql(batch, errors));
    const [progress] = rowsOf<ImportTotalsRow>(
      await tx.execute(progressSql(batch, { valid: valid.length, failed: errors.length, created, updated, bytesRead })),
    );
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.importProgressed, {
        organizationId: batch.organizationId,
        subjectId: batch.importId,
        correlationId: batch.correlationId,
        data: {
          ...totalsOf(progress!),
          percent: progress!.total_bytes
            ? percentOf(Number(progress!.bytes_read), Number(progress!.total_bytes))
            : null,
        },
      }),
    ]);
    return { created, updated };
  });
}

interface Lane {
  valid: BatchRow[];
  errors: RowError[];
  inflight: Promise<void>;
}

/**
 * Rows spread over lanes by email, each lane writing one batch at a time on its own connection
 * while parsing goes on. The same address always takes the same lane, so its rows apply in file
 * order and two lanes never wait on each other's contacts.
 */
function batchLanes(count: number, batchSize: number, write: (valid: BatchRow[], errors: RowError[]) => Promise<void>) {
  const lanes: Lane[] = Array.from({ length: count }, () => ({ valid: [], errors: [], inflight: Promise.resolve() }));
  const flush = async (lane: Lane) => {
    await lane.inflight;
    lane.inflight = write(lane.valid, lane.errors);
    lane.inflight.catch(() => {});
    lane.valid = [];
    lane.errors = [];
  };
  return {
    /** A converted row, with the records skipped while reading it; a full lane writes its batch. */
    async add(row: BatchRow | RowError, skipped: RowError[]) {
      const lane = lanes['email' in row ? laneOf(row.email, lanes.length) : row.n % lanes.length]!;
      if ('email' in row) lane.valid.push(row);
      else lane.errors.push(row);
      lane.errors.push(...skipped);
      if (lane.valid.length + lane.errors.length >= batchSize) await flush(lane);
    },
    /** Writes what every lane holds (and the last skipped records), and waits for all of it. */
    async writeAll(skipped: RowError[]) {
      lanes[0]!.errors.push(...skipped);
      for (const lane of lanes) await flush(lane);
      for (const lane of lanes) await lane.inflight;
    },
    /** Waits for the batches in flight, whatever their outcome. */
    settle: () => Promise.allSettled(lanes.map((lane) => lane.inflight)),
  };
}

/** Every row of the file into the lanes; a file that cannot be read as CSV stops it, with why. */
async function feedLanes(
  csv: CsvRowReader,
  lanes: ReturnType<typeof batchLanes>,
  convert: (row: ParsedRow) => BatchRow | RowError,
): Promise<Error | undefined> {
  for (;;) {
    let row: ParsedRow;
    try {
      const next = await csv.rows.next();
      if (next.done) return undefined;
      row = next.value;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    await lanes.add(convert(row), csv.takeSkipped());
  }
}

/** Every dynamic segment of the organization rebuilt once, dependencies first. */
async function rebuildDynamicSegments(deps: CrmDeps, organizationId: string, correlationId: string) {
  const all = await loadDynamicSegments(deps.handle.db, organizationId);
  for (const level of dependencyLevels(all))
    for (const segment of level)
      await deps.handle.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${segmentLockKey(segment.row.id)}))`);
        const stats = await rebuildSegment(tx, deps, segment, correlationId);
        await appendEvents(tx, outbox, [
          createEvent(catalogue.crm.segmentRebuilt, {
            organizationId,
            subjectId: segment.row.id,
            correlationId,
            data: stats,
          }),
        ]);
      });
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
  return percentOf(row.bytesRead, row.totalBytes);
}

const percentOf = (read: number, total: number) => Math.min(100, Math.floor((read / total) * 1000) / 10);

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
  const parts = [csvLines([['row', 'messages', 'raw']])];
  for (let after = 0; ; ) {
    const page = await importErrorsPage(deps, organizationId, importId, after, 2000);
    if (page.length === 0) break;
    parts.push(csvLines(page.map((e) => [e.rowNumber, e.messages.join('; '), e.raw])));
    after = page.at(-1)!.rowNumber;
  }
  return parts.join('');
}
