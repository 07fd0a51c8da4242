// The rows of a contact import: which contact fields CSV columns may fill, the mapping's check,
// the file read as numbered rows, and each row turned into a row for the batch statement (checked
// like any other contact write) or a row error.
import { pipeline, type Readable, Transform } from 'node:stream';
import { type FieldIssue, newId } from '@mauntic/kernel';
import { parse } from 'csv-parse';
import type { BatchRow, RowError } from '../db/import-batches.ts';
import type { FieldDefinition } from '../domain/field-types.ts';
import { type References, referenceIssues } from './contact-references.ts';
import { type ContactInput, checkContactInput } from './contact-values.ts';

/** Standard contact properties a CSV column can fill, with their columns. */
export const IMPORT_TARGETS = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  phone: 'phone',
  timezone: 'timezone',
  locale: 'locale',
  ownerId: 'owner_id',
  stageId: 'stage_id',
  points: 'points',
} as const;
type StandardTarget = keyof typeof IMPORT_TARGETS;

/** A row larger than this is rejected (and reported) instead of imported. */
export const MAX_ROW_CHARS = 1024 * 1024;
/** Past this, a "row" is a broken file (e.g. a quote never closed), and the import stops. */
const HARD_RECORD_LIMIT = 32 * 1024 * 1024;
/** How much of a rejected row the error report keeps. */
const MAX_RAW_KEPT = 10_000;
const INT32_MAX = 2_147_483_647;

/** Problems with a mapping, against the organization's contact fields. */
export function checkMapping(
  mapping: unknown,
  definitions: Map<string, FieldDefinition>,
  root: string[] = ['input', 'mapping'],
): FieldIssue[] {
  if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping))
    return [{ path: root, message: 'must be an object of CSV column names to contact fields' }];
  const issues: FieldIssue[] = [];
  const seen = new Map<string, string>();
  for (const [column, target] of Object.entries(mapping)) {
    const path = [...root, column];
    if (typeof target !== 'string') {
      issues.push({ path, message: 'must name a contact field' });
      continue;
    }
    if (target.startsWith('fields.')) {
      if (!definitions.has(target.slice('fields.'.length)))
        issues.push({ path, message: `${target} is not a contact field of this organization` });
    } else if (!(target in IMPORT_TARGETS)) {
      issues.push({
        path,
        message: `${target} is not a contact field; use one of ${Object.keys(IMPORT_TARGETS).join(', ')} or fields.<key>`,
      });
    }
    const other = seen.get(target);
    if (other !== undefined) issues.push({ path, message: `${target} is already filled by column ${other}` });
    seen.set(target, column);
  }
  if (!Object.values(mapping).includes('email'))
    issues.push({ path: root, message: 'one column must map to email: contacts are matched by email' });
  return issues;
}

export interface ParsedRow {
  row: number;
  /** The row's cells, in the header's order. */
  values: string[];
  raw: string;
  ragged: boolean;
}

/** A mapped column: its name, the contact field it fills, and its position in the header. */
export type MappedColumn = [column: string, target: string, index: number];

/** The standard columns (snake_case) a mapping fills. */
export const standardColumnsOf = (mapping: Record<string, string>): string[] =>
  Object.values(mapping).flatMap((t) => (t in IMPORT_TARGETS ? [IMPORT_TARGETS[t as StandardTarget]] : []));

/** A CSV file read as numbered rows. */
export interface CsvRowReader {
  /** The data rows in file order; the header is checked against the mapping first. */
  rows: AsyncGenerator<ParsedRow>;
  /** The mapped columns and their places in the header, once the header is read. */
  readonly columns: MappedColumn[];
  /** Bytes of the file read so far. */
  readonly bytesRead: number;
  /** The records csv-parse skipped as invalid CSV since the last call, as row errors. */
  takeSkipped(): RowError[];
}

/**
 * Reads a CSV stream. Records come as arrays with their raw text: csv-parse's own column mapping
 * and per-record callback cost more than the parsing itself. A row's number counts the records
 * csv-parse skipped as invalid CSV before it; each skip notes how many data rows had come out by
 * then. A header without a mapped column, or a record past HARD_RECORD_LIMIT, fails the reading.
 */
export function readCsvRows(source: Readable, mapping: Record<string, string>): CsvRowReader {
  let bytesRead = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytesRead += chunk.length;
      done(null, chunk);
    },
  });
  const skipped: RowError[] = [];
  const skipMarks: number[] = [];
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
    raw: true,
    max_record_size: HARD_RECORD_LIMIT,
    skip_records_with_error: true,
    on_skip: (error, raw) => {
      const dataRows = Math.max(0, parser.info.records - 1);
      const n = dataRows + skipMarks.length + 1;
      if (error?.code === 'CSV_MAX_RECORD_SIZE')
        throw new Error(`row ${n} is larger than ${HARD_RECORD_LIMIT / 1024 / 1024} MB; is a quote left open?`);
      skipMarks.push(dataRows);
      skipped.push({ n, m: [error?.message ?? 'the row is not valid CSV'], raw: keepRaw(raw ?? '') });
    },
  });
  const records = pipeline(source, counter, parser, () => {}) as unknown as AsyncIterable<{
    record: string[];
    raw: string;
  }>;
  const targets = Object.entries(mapping);
  let columns: MappedColumn[] = [];

  async function* rows(): AsyncGenerator<ParsedRow> {
    let header: string[] | undefined;
    let dataRows = 0;
    let skipsPassed = 0;
    // Leaving this loop early (a missing column) stops reading the source.
    for await (const { record, raw } of records) {
      if (!header) {
        header = record;
        const missing = targets.map(([column]) => column).filter((c) => !record.includes(c));
        if (missing.length) throw new Error(`the file has no column ${missing.map((c) => `"${c}"`).join(', ')}`);
        columns = targets.map(([column, target]) => [column, target, record.indexOf(column)]);
        continue;
      }
      dataRows += 1;
      while (skipsPassed < skipMarks.length && skipMarks[skipsPassed]! < dataRows) skipsPassed += 1;
      yield { row: dataRows + skipsPassed, values: record, raw, ragged: record.length !== header.length };
    }
  }

  return {
    rows: rows(),
    get columns() {
      return columns;
    },
    get bytesRead() {
      return bytesRead;
    },
    takeSkipped: () => skipped.splice(0),
  };
}

/** FNV-1a of the lower-cased address: which lane a row takes. */
export function laneOf(email: string, lanes: number): number {
  const key = email.toLowerCase();
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

/** A rejected row's text as the error report keeps it. */
const keepRaw = (raw: string) =>
  (raw.length > MAX_RAW_KEPT ? `${raw.slice(0, MAX_RAW_KEPT)}…` : raw).replaceAll('\0', '').replace(/\r?\n$/, '');

/** One CSV record as a contact row for the batch statement, or the reasons it cannot be one. */
export function convertRow(
  parsed: ParsedRow,
  mapping: MappedColumn[],
  definitions: Map<string, FieldDefinition>,
  references: References,
  columnOf: Map<string, string>,
): BatchRow | RowError {
  const { row, values: cells, raw } = parsed;
  const fail = (messages: string[]): RowError => ({ n: row, m: messages, raw: keepRaw(raw) });
  if (raw.length > MAX_ROW_CHARS) return fail([`the row is larger than ${MAX_ROW_CHARS / 1024 / 1024} MB`]);
  if (parsed.ragged) return fail(['the row does not have as many fields as the header']);
  if (raw.includes('\0')) return fail(['the row contains a NUL character']);
  const input: ContactInput = {};
  const fields: Record<string, unknown> = {};
  let points: number | undefined;
  const messages: string[] = [];
  for (const [column, target, index] of mapping) {
    const value = cells[index];
    // An empty cell leaves the contact's value as it is.
    if (value === undefined || value === '') continue;
    if (target.startsWith('fields.')) fields[target.slice(7)] = value;
    else if (target === 'points') {
      if (/^-?\d{1,10}$/.test(value) && Math.abs(Number(value)) <= INT32_MAX) points = Number(value);
      else messages.push(`${column}: points must be a whole number`);
    } else input[target as Exclude<StandardTarget, 'points'>] = value;
  }
  if (Object.keys(fields).length) input.fields = fields;
  const { values, issues } = checkContactInput(input, definitions, [], { creating: false });
  issues.push(...referenceIssues(values, references, []));
  for (const issue of issues) {
    const target = issue.path.join('.');
    messages.push(`${columnOf.get(target) ?? target}: ${target} ${issue.message}`);
  }
  if (!values.email && !issues.some((i) => i.path[0] === 'email'))
    messages.push(`${columnOf.get('email')}: email is required`);
  if (messages.length) return fail(messages);

  const out: BatchRow = { n: row, id: newId(), event_id: newId(), email: values.email! };
  const changed: string[] = [];
  for (const [key, column] of Object.entries(IMPORT_TARGETS)) {
    if (key === 'email' || key === 'points') continue;
    const v = values[key as keyof typeof values];
    if (v !== undefined && v !== null) {
      (out as Record<string, unknown>)[column] = v;
      changed.push(key === 'ownerId' ? 'owner' : key === 'stageId' ? 'stage' : key);
    }
  }
  if (points !== undefined) {
    out.points = points;
    changed.push('points');
  }
  if (values.fields) {
    out.fields = values.fields;
    for (const key of Object.keys(values.fields)) changed.push(`fields.${key}`);
  }
  out.changed = changed;
  return out;
}
