// Sorting the contacts list by a custom field: every contact exactly once, in order, nulls last
// both ways, across keyset pages (ties on the value broken by id).
import { unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContactPage, ContactPageArgs } from '../src/app/contact-queries.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

describe.each(DATABASES)('contacts sorted by a custom field (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  const ctx = newOrg();
  const people: { id: string; score: number | null; renewal: string | null; city: string | null }[] = [];

  beforeAll(async () => {
    crm = await openCrm(open);
    const s = crm.services;
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'score', label: 'Score', type: 'number', scale: 1 }));
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'renewal', label: 'Renewal', type: 'date' }));
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'city', label: 'City', type: 'text' }));
    unwrap(
      await s.createField(ctx, {
        entity: 'contact',
        key: 'topics',
        label: 'Topics',
        type: 'multiselect',
        choices: ['a', 'b'],
      }),
    );
    const scores = [5, null, -2.5, 10, 5, null, 0, 100, 5, -2.5, null, 7.5, 10, 3, null, 42, 5, 0.5, 9, null, 1, 5, 8];
    const cities = ['berlin', 'Amsterdam', null, 'cairo', 'Berlin', null, 'dakar'];
    for (const [i, score] of scores.entries()) {
      const renewal = i % 4 === 0 ? null : `2027-0${(i % 9) + 1}-1${i % 10}`;
      const city = cities[i % cities.length] ?? null;
      const fields: Record<string, unknown> = {};
      if (score !== null) fields.score = score;
      if (renewal) fields.renewal = renewal;
      if (city) fields.city = city;
      const contact = unwrap(await s.createContact(ctx, { email: `p${i}@example.com`, fields }));
      people.push({ id: contact.id, score, renewal, city });
    }
  });
  afterAll(() => crm?.close());

  async function readAll(sortByField: ContactPageArgs['sortByField'], first: number, filter?: unknown) {
    const ids: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: ContactPage = unwrap(await crm.services.listContacts(ctx, { sortByField, first, after, filter }));
      if (!filter) expect(page.totalCount).toBe(people.length);
      ids.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) return ids;
      after = page.pageInfo.endCursor;
    }
    throw new Error('paging did not end');
  }

  /** The expected order: by value (nulls last), then id in the same direction. */
  function expected<T extends string | number>(
    value: (p: (typeof people)[number]) => T | null,
    direction: 'asc' | 'desc',
  ) {
    const sign = direction === 'asc' ? 1 : -1;
    return [...people]
      .sort((a, b) => {
        const va = value(a);
        const vb = value(b);
        if (va === null || vb === null) {
          if (va !== vb) return va === null ? 1 : -1;
        } else if (va !== vb) return (va < vb ? -1 : 1) * sign;
        return (a.id < b.id ? -1 : 1) * sign;
      })
      .map((p) => p.id);
  }

  it.each([
    ['asc', 1],
    ['asc', 4],
    ['desc', 3],
    ['desc', 50],
  ] as const)('by a number %s, %i a page, nulls last', async (direction, first) => {
    const ids = await readAll({ key: 'score', direction }, first);
    expect(ids).toEqual(expected((p) => p.score, direction));
  });

  it('by a date and by text (ignoring case), both directions', async () => {
    for (const direction of ['asc', 'desc'] as const) {
      expect(await readAll({ key: 'renewal', direction }, 5)).toEqual(expected((p) => p.renewal, direction));
      expect(await readAll({ key: 'city', direction }, 2)).toEqual(
        expected((p) => p.city?.toLowerCase() ?? null, direction),
      );
    }
  });

  it('within a filter', async () => {
    const ids = await readAll({ key: 'score', direction: 'desc' }, 3, { field: 'fields.score', op: 'gte', value: 5 });
    expect(ids).toEqual(
      expected((p) => p.score, 'desc').filter((id) => (people.find((p) => p.id === id)!.score ?? -1) >= 5),
    );
  });

  it('refuses unknown and multiselect fields, two sorts at once and forged cursors', async () => {
    const list = (args: ContactPageArgs) => crm.services.listContacts(ctx, args);
    expect(await list({ sortByField: { key: 'nope', direction: 'asc' } })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED', issues: [{ path: ['sortByField', 'key'] }] },
    });
    expect(await list({ sortByField: { key: 'topics', direction: 'asc' } })).toMatchObject({
      ok: false,
      error: { issues: [{ path: ['sortByField', 'key'] }] },
    });
    expect(await list({ sort: 'EMAIL_ASC', sortByField: { key: 'score', direction: 'asc' } })).toMatchObject({
      ok: false,
      error: { issues: [{ path: ['sortByField'] }] },
    });
    const forged = Buffer.from(JSON.stringify(['1; drop table crm.contacts', people[0]!.id])).toString('base64url');
    expect(await list({ sortByField: { key: 'score', direction: 'asc' }, after: forged })).toMatchObject({
      ok: false,
      error: { issues: [{ path: ['after'] }] },
    });
    // Another organization has no such field.
    expect(
      await crm.services.listContacts(newOrg(), { sortByField: { key: 'score', direction: 'asc' } }),
    ).toMatchObject({ ok: false, error: { issues: [{ path: ['sortByField', 'key'] }] } });
  });
});
