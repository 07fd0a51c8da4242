// Relay connections over keyset pages: rows are ordered by their UUID v7 id (creation order),
// the cursor is the last id seen. Forward paging only (first/after).
import { GraphQLError } from 'graphql';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface PageWindow {
  /** Rows to fetch: one more than asked, to know whether there is a next page. */
  fetch: number;
  limit: number;
  afterId?: string;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const encode = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
const decode = (cursor: string) => Buffer.from(cursor, 'base64url').toString('utf8');

export function pageWindow(args: PageArgs): PageWindow {
  if (args.last != null || args.before != null)
    throw new GraphQLError('Only forward paging (first/after) is supported', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  const limit = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE_SIZE)
    throw new GraphQLError(`first must be between 0 and ${MAX_PAGE_SIZE}`, { extensions: { code: 'BAD_USER_INPUT' } });
  const afterId = args.after ? decode(args.after) : undefined;
  if (afterId !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(afterId))
    throw new GraphQLError('after is not a cursor from this connection', { extensions: { code: 'BAD_USER_INPUT' } });
  return { fetch: limit + 1, limit, ...(afterId ? { afterId } : {}) };
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

export function toConnection<T>(
  rows: T[],
  window: PageWindow,
  totalCount: number,
  idOf: (row: T) => string,
): Connection<T> {
  const page = rows.slice(0, window.limit);
  const edges = page.map((node) => ({ cursor: encode(idOf(node)), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > window.limit,
      hasPreviousPage: window.afterId !== undefined,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount,
  };
}

/** Options for a Pothos `t.connection` whose resolver returns a Connection: its name and `totalCount`. */
export const connectionWithTotalCount = (name: string) => ({
  name,
  fields: (t: any) => ({ totalCount: t.int({ resolve: (c: { totalCount: number }) => c.totalCount }) }),
});
