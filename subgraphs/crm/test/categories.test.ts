// Categories on real databases: segments filed under a category, segment lists filtered by it,
// and a category of another organization neither usable nor visible.
import { unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, newOrg, openCrm, runGraphql } from './harness.ts';

describe.each(DATABASES)('categories (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  it('files segments under categories and lists a category’s segments', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const gql = (source: string, variables: Record<string, unknown> = {}) => runGraphql(s, ctx, source, variables);
    const created = await gql(`mutation { createCategory(input: { name: "Newsletters", color: "#1f77b4" }) {
      __typename ... on Category { id name color } } }`);
    const newsletters = created.data?.createCategory;
    expect(newsletters).toMatchObject({ __typename: 'Category', name: 'Newsletters', color: '#1f77b4' });
    const bad = await gql(`mutation { createCategory(input: { name: "Newsletters", color: "blue" }) {
      __typename ... on ValidationError { issues { path } } } }`);
    expect(bad.data?.createCategory).toEqual({ __typename: 'ValidationError', issues: [{ path: ['input', 'color'] }] });
    const events = unwrap(await s.createCategory(ctx, { name: 'Events' }));
    const [weekly, monthly, other] = [
      unwrap(await s.createSegment(ctx, { name: 'weekly', kind: 'static' })),
      unwrap(await s.createSegment(ctx, { name: 'monthly', kind: 'static' })),
      unwrap(await s.createSegment(ctx, { name: 'other', kind: 'static' })),
    ];
    for (const segment of [weekly, monthly])
      unwrap(await s.setSegmentCategory(ctx, { segmentId: segment.id, categoryId: newsletters.id }));
    unwrap(await s.setSegmentCategory(ctx, { segmentId: other.id, categoryId: events.id }));
    const list = async (categoryId?: string) =>
      (
        await gql(
          'query($c: ID) { segments(first: 10, categoryId: $c) { totalCount edges { node { name categoryId } } } }',
          {
            c: categoryId ?? null,
          },
        )
      ).data?.segments;
    expect(await list(newsletters.id)).toEqual({
      totalCount: 2,
      edges: [
        { node: { name: 'monthly', categoryId: newsletters.id } },
        { node: { name: 'weekly', categoryId: newsletters.id } },
      ],
    });
    expect((await list())?.totalCount).toBe(3);

    // Another organization's category is not found, and deleting one leaves its segments uncategorised.
    const foreign = unwrap(await s.createCategory(newOrg(), { name: 'Newsletters' }));
    expect(await s.setSegmentCategory(ctx, { segmentId: other.id, categoryId: foreign.id })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    unwrap(await s.deleteCategory(ctx, events.id));
    expect(unwrap(await s.getSegment(ctx, other.id))?.categoryId).toBeNull();
    expect(unwrap(await s.listCategories(ctx)).map((c) => c.name)).toEqual(['Newsletters']);
  });
});
