// Reading contacts: one, or a page filtered by a segment-style filter tree and sorted, with
// keyset cursors that carry the sort value and the id.
import { fail, ok, type RequestContext, type Result, ValidationError } from '@mauntic/kernel';
import { and, asc, count, desc, eq, type SQL, sql } from 'drizzle-orm';
import { contacts } from '../db/schema';
import { compileFilter } from '../db/segment-sql';
import { validateFilter } from '../domain/segment-filter';
import { requireScope } from './authorize';
import type { ContactRow } from './contacts';
import type { CrmDeps } from './deps';
import { fieldDefinitionsOf } from './segment-membership';

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
  first?: number | null;
  after?: string | null;
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
  const org = requireScope(ctx, 'crm:read');
  if (!org.ok) return org;
  const limit = args.first ?? 20;
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE)
    return fail(new ValidationError([{ path: ['first'], message: `must be between 0 and ${MAX_PAGE}` }]));
  const sort = CONTACT_SORTS[args.sort ?? 'CREATED_AT_DESC'];

  const conditions: SQL[] = [eq(contacts.organizationId, org.value)];
  if (args.filter !== undefined && args.filter !== null) {
    const fields = await fieldDefinitionsOf(deps.handle.db, org.value);
    const node = validateFilter(args.filter, { fields, segmentExists: () => true });
    if (!node.ok) return fail(new ValidationError(node.error.issues));
    conditions.push(
      compileFilter(node.value, { organizationId: org.value, now: deps.now(), timeZone: 'UTC', mode: 'rebuild' }),
    );
  }
  const [total] = await deps.handle.db
    .select({ n: count() })
    .from(contacts)
    .where(and(...conditions));

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

export async function getContact(deps: CrmDeps, organizationId: string, id: string): Promise<ContactRow | null> {
  const [row] = await deps.handle.db
    .select()
    .from(contacts)
    .where(and(eq(contacts.id, id), eq(contacts.organizationId, organizationId)));
  return row ?? null;
}

export type ContactPage = Extract<Awaited<ReturnType<typeof listContacts>>, { ok: true }>['value'];
export type { Result };
