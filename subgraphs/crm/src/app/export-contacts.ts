// Contacts to CSV: the rows matching a filter, read in keyset pages and written with
// csv-stringify page by page, so no more than a page is ever held.
import { authorize, fail, ok, type RequestContext, ValidationError } from '@mauntic/kernel';
import { stringify } from 'csv-stringify/sync';
import { and, asc, eq, gt, type SQL } from 'drizzle-orm';
import { contacts } from '../db/schema.ts';
import { compileFilter } from '../db/segment-sql.ts';
import { validateFilter } from '../domain/segment-filter.ts';
import type { CrmDeps } from './deps.ts';
import { fieldDefinitionsOf } from './segment-membership.ts';

const PAGE = 2000;
const STANDARD_COLUMNS = [
  'id',
  'email',
  'firstName',
  'lastName',
  'phone',
  'timezone',
  'locale',
  'points',
  'tags',
  'createdAt',
] as const;

const cell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join('|');
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
};

/**
 * The contacts matching `filter` (all of them without one) as CSV text, in pages: a header
 * with the standard columns and one column per custom field (named by its key), then a line
 * per contact. Tags and multiselect values are joined with `|`.
 */
export async function exportContactsCsv(deps: CrmDeps, ctx: RequestContext, filter?: unknown) {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const fields = await fieldDefinitionsOf(deps.handle.db, organizationId);
  const scope: SQL[] = [eq(contacts.organizationId, organizationId)];
  if (filter !== undefined && filter !== null) {
    const node = validateFilter(filter, { fields, segmentExists: () => true });
    if (!node.ok)
      return fail(new ValidationError(node.error.issues.map((i) => ({ ...i, path: ['filter', ...i.path] }))));
    scope.push(compileFilter(node.value, { organizationId, now: deps.now(), timeZone: 'UTC', mode: 'rebuild' }));
  }
  const keys = fields
    .filter((f) => f.entity === 'contact')
    .map((f) => f.key)
    .sort();
  async function* lines(): AsyncGenerator<string> {
    yield stringify([[...STANDARD_COLUMNS, ...keys]]);
    for (let after: string | undefined; ; ) {
      const page = await deps.handle.db
        .select()
        .from(contacts)
        .where(and(...scope, ...(after ? [gt(contacts.id, after)] : [])))
        .orderBy(asc(contacts.id))
        .limit(PAGE);
      if (page.length === 0) return;
      yield stringify(
        page.map((c) => [...STANDARD_COLUMNS.map((k) => cell(c[k])), ...keys.map((k) => cell(c.fields[k]))]),
      );
      after = page.at(-1)!.id;
    }
  }
  return ok(lines());
}

/** The whole export as one string (what the graph returns). */
export async function exportContacts(deps: CrmDeps, ctx: RequestContext, filter?: unknown) {
  const result = await exportContactsCsv(deps, ctx, filter);
  if (!result.ok) return result;
  let csv = '';
  for await (const part of result.value) csv += part;
  return ok(csv);
}
