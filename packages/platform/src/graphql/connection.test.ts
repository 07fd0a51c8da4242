import { describe, expect, it } from 'vitest';
import { pageWindow, toConnection } from './connection.ts';

const ids = [
  '01900000-0000-7000-8000-000000000003',
  '01900000-0000-7000-8000-000000000002',
  '01900000-0000-7000-8000-000000000001',
];

describe('keyset connections', () => {
  it('fetches one extra row to know about the next page, and resumes after the cursor', () => {
    const w = pageWindow({ first: 2 });
    expect(w).toEqual({ fetch: 3, limit: 2 });
    const page = toConnection(
      ids.map((id) => ({ id })),
      w,
      3,
      (r) => r.id,
    );
    expect(page.edges.map((e) => e.node.id)).toEqual(ids.slice(0, 2));
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = pageWindow({ first: 2, after: page.pageInfo.endCursor });
    expect(next.afterId).toBe(ids[1]);
  });

  it('refuses backward paging, oversized pages and foreign cursors', () => {
    expect(() => pageWindow({ last: 2 })).toThrow(/forward/);
    expect(() => pageWindow({ first: 1000 })).toThrow(/between/);
    expect(() => pageWindow({ after: Buffer.from("1' or 1=1").toString('base64url') })).toThrow(/cursor/);
  });
});
