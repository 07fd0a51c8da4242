// Reading contacts: one, or a page filtered by a segment-style filter tree and sorted, with
// keyset cursors that carry the sort value and the id.
import { authorize, fail, ok, type RequestContext, type Result, ValidationError } from '@mauntic/kernel';
import { and, asc, count, desc, eq, type SQL, sql } from 'drizzle-orm';
import { contacts } from '../db/schema.ts';
import { compileFilter } from '../db/segment-sql.ts';
import type { ValueKind } from '../domain/segment-filter.ts';
import { resolveField } from '../domain/segment-filter-validation.ts';
import type { ContactRow } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { fieldDefinitionsOf, parseCallerFilter } from './segment-membership.ts';

// Nullable text sorts as '' (first ascending); the id breaks ties so the order is total.
const SORT_KEYS = {
  id: sql`${contacts.id}`,
  updatedAt: sql`${contacts.updatedAt}`,
  email: sql`coalesce(lower(${contacts.email}), '')`,
  lastName: sql`coalesce(lower(${contacts.lastName}), '')`,
  points: sql`${contacts.points}`,
};
const CASTS = { id: sql`uuid`, updatedAt: sql`timestamptz`, email: sql`text`, lastName: sql`text`, points: sql`int` };

export const CONTACT_SORTS = {
  CREATED_AT_DESC: { key: 'id', direction: 'desc' },
  CREATED_AT_ASC: { key: 'id', direction: 'asc' },
  UPDATED_AT_DESC: { key: 'updatedAt', direction: 'desc' },
  EMAIL_ASC: { key: 'email', direction: 'asc' },
  LAST_NAME_ASC: { key: 'lastName', direction: 'asc' },
  POINTS_DESC: { key: 'points', direction: 'desc' },
} as const satisfies Record<string, { key: keyof typeof SORT_KEYS; direction: 'asc' | 'desc' }>;
export type ContactSort = keyof typeof CONTACT_SORTS;

export interface ContactPageArgs {
  filter?: unknown;
  sort?: ContactSort;
  /** Sort by a contact custom field instead (nulls last either way); not with `sort`. */
  sortByField?: { key: string; direction: 'asc' | 'desc' };
  first?: number | null;
  after?: string | null;
}

/** How a custom field sorts: its value as SQL (null when absent or not of the field's type) and a cursor check. */
interface FieldSortKey {
  expr: SQL;
  cast: SQL;
  valid: (cursorValue: string) => boolean;
}

function fieldSortKey(key: string, kind: ValueKind): FieldSortKey | null {
  const value = sql`(${contacts.fields} ->> ${key}::text)`;
  const typed = (jsonType: string) => sql`jsonb_typeof(${contacts.fields} -> ${key}::text) = ${jsonType}::text`;
  switch (kind) {
    case 'numeric':
      return {
        expr: sql`(case when ${typed('number')} then ${value}::numeric end)`,
        cast: sql`numeric`,
        valid: (v) => /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v),
      };
    case 'boolean':
      return {
        expr: sql`(case when ${typed('boolean')} then ${value}::boolean end)`,
        cast: sql`boolean`,
        valid: (v) => v === 'true' || v === 'false',
      };
    case 'date':
    case 'timestamptz':
    case 'time':
      // Canonical forms (YYYY-MM-DD, toISOString, HH:MM:SS) sort as text byte by byte.
      return {
        expr: sql`(case when ${typed('string')} then ${value} end) collate "C"`,
        cast: sql`text collate "C"`,
        valid: () => true,
      };
    case 'text':
      return { expr: sql`lower(case when ${typed('string')} then ${value} end)`, cast: sql`text`, valid: () => true };
    default:
      return null;
  }
}

const MAX_PAGE = 200;
const encode = (value: unknown, id: string) => Buffer.from(JSON.stringify([value, id])).toString('base64url');

function decode(cursor: string): [unknown, string] | null {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return Array.isArray(parsed) && parsed.length === 2 && typeof parsed[1] === 'string'
      ? [parsed[0], parsed[1]]
      : null;
  } catch {
    return null;
  }
}

export async function listContacts(deps: CrmDeps, ctx: RequestContext, args: ContactPageArgs) {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const limit = args.first ?? 20;
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE)
    return fail(new ValidationError([{ path: ['first'], message: `must be between 0 and ${MAX_PAGE}` }]));
  if (args.sort && args.sortByField)
    return fail(new ValidationError([{ path: ['sortByField'], message: 'give sort or sortByField, not both' }]));

  const conditions: SQL[] = [eq(contacts.organizationId, organizationId)];
  const needsFields = (args.filter !== undefined && args.filter !== null) || args.sortByField;
  const fields = needsFields ? await fieldDefinitionsOf(deps.handle.db, organizationId) : [];
  let byField: (FieldSortKey & { direction: 'asc' | 'desc' }) | null = null;
  if (args.sortByField) {
    const target = resolveField(`fields.${args.sortByField.key}`, fields);
    const key = target?.source === 'fields' ? fieldSortKey(target.key, target.kind) : null;
    if (!target)
      return fail(
        new ValidationError([{ path: ['sortByField', 'key'], message: 'is not a contact field of this organization' }]),
      );
    if (!key)
      return fail(new ValidationError([{ path: ['sortByField', 'key'], message: 'a multiselect field cannot sort' }]));
    byField = { ...key, direction: args.sortByField.direction };
  }
  if (args.filter !== undefined && args.filter !== null) {
    const node = await parseCallerFilter(deps.handle.db, organizationId, args.filter, [], fields);
    if (!node.ok) return node;
    conditions.push(compileFilter(node.value, { organizationId, now: deps.now(), timeZone: 'UTC', mode: 'rebuild' }));
  }
  const [total] = await deps.handle.db
    .select({ n: count() })
    .from(contacts)
    .where(and(...conditions));

  if (byField) return fieldSortedPage(deps, conditions, byField, limit, args.after, total?.n ?? 0);
  const sort = CONTACT_SORTS[args.sort ?? 'CREATED_AT_DESC'];
  const key = SORT_KEYS[sort.key];
  if (args.after) {
    const cursor = decode(args.after);
    if (!cursor || !/^[0-9a-f-]{36}$/.test(cursor[1]))
      return fail(new ValidationError([{ path: ['after'], message: 'is not a cursor from this connection' }]));
    const [value, id] = cursor;
    const cmp = sort.direction === 'desc' ? sql`<` : sql`>`;
    // A row comparison: past the cursor's (sort value, id), in the sort's direction.
    conditions.push(sql`(${key}, ${contacts.id}) ${cmp} (${String(value)}::${CASTS[sort.key]}, ${id}::uuid)`);
  }
  const order = sort.direction === 'desc' ? desc : asc;
  const rows = await deps.handle.db
    .select({ contact: contacts, cursorValue: sql<string>`(${key})::text` })
    .from(contacts)
    .where(and(...conditions))
    .orderBy(order(key), order(contacts.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const edges = page.map((r) => ({
    cursor: encode(r.cursorValue, r.contact.id),
    node: r.contact,
  }));
  return ok({
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: Boolean(args.after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: total?.n ?? 0,
  });
}

/**
 * A page sorted by a custom field, nulls last in both directions: ordered by (value is null,
 * value, id), and a cursor ([value or null, id]) resumes right after its row in that order.
 */
async function fieldSortedPage(
  deps: CrmDeps,
  conditions: SQL[],
  key: FieldSortKey & { direction: 'asc' | 'desc' },
  limit: number,
  after: string | null | undefined,
  totalCount: number,
) {
  const desc_ = key.direction === 'desc';
  const cmp = desc_ ? sql`<` : sql`>`;
  if (after) {
    const cursor = decode(after);
    const value = cursor?.[0];
    if (
      !cursor ||
      !/^[0-9a-f-]{36}$/.test(cursor[1]) ||
      (value !== null && (typeof value !== 'string' || !key.valid(value)))
    )
      return fail(new ValidationError([{ path: ['after'], message: 'is not a cursor from this connection' }]));
    const id = cursor[1];
    conditions.push(
      value === null
        ? sql`(${key.expr} is null and ${contacts.id} ${cmp} ${id}::uuid)`
        : sql`((${key.expr} is not null and (${key.expr}, ${contacts.id}) ${cmp} (${value}::${key.cast}, ${id}::uuid)) or ${key.expr} is null)`,
    );
  }
  const order = desc_ ? desc : asc;
  const rows = await deps.handle.db
    .select({ contact: contacts, cursorValue: sql<string | null>`(${key.expr})::text` })
    .from(contacts)
    .where(and(...conditions))
    .orderBy(asc(sql`(${key.expr} is null)`), order(key.expr), order(contacts.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const edges = page.map((r) => ({ cursor: encode(r.cursorValue, r.contact.id), node: r.contact }));
  return ok({
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount,
  });
}

/** One contact of the caller's organization, or null when it has none with this id. */
export async function getContact(deps: CrmDeps, ctx: RequestContext, id: string): Promise<Result<ContactRow | null>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select()
    .from(contacts)
    .where(and(eq(contacts.id, id), eq(contacts.organizationId, access.value.organizationId)));
  return ok(row ?? null);
}

export type ContactPage = Extract<Awaited<ReturnType<typeof listContacts>>, { ok: true }>['value'];
export type { Result };
