// Deleting a company: its links go, segments on company conditions follow, other
// organizations' companies are out of reach.
import { unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, newOrg, openCrm } from './harness.ts';

describe.each(DATABASES)('deleting companies (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  it('unlinks its contacts and takes them out of segments that needed the company', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const acme = unwrap(await s.createCompany(ctx, { name: 'Acme', domain: 'acme.com' }));
    const globex = unwrap(await s.createCompany(ctx, { name: 'Globex' }));
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const bob = unwrap(await s.createContact(ctx, { email: 'bob@example.com' }));
    unwrap(await s.linkCompany(ctx, { contactId: ada.id, companyId: acme.id, primary: true }, true));
    unwrap(await s.linkCompany(ctx, { contactId: ada.id, companyId: globex.id }, true));
    unwrap(await s.linkCompany(ctx, { contactId: bob.id, companyId: acme.id }, true));
    const atAcme = unwrap(
      await s.createSegment(ctx, { name: 'acme', filter: { field: 'company.domain', op: 'eq', value: 'acme.com' } }),
    );
    const noCompany = unwrap(
      await s.createSegment(ctx, { name: 'none', filter: { not: { field: 'company.name', op: 'notEmpty' } } }),
    );
    for (const seg of [atAcme, noCompany]) unwrap(await s.rebuildSegment(ctx, seg.id));
    expect(unwrap(await s.getSegment(ctx, atAcme.id))?.memberCount).toBe(2);
    expect(unwrap(await s.getSegment(ctx, noCompany.id))?.memberCount).toBe(0);

    const deleted = unwrap(await s.deleteCompany(ctx, acme.id));
    expect(deleted).toMatchObject({ id: acme.id, name: 'Acme' });
    expect(unwrap(await s.getCompany(ctx, acme.id))).toBeNull();
    expect((await s.companiesOf(org, ada.id)).map((c) => c.name)).toEqual(['Globex']);
    expect(await s.companiesOf(org, bob.id)).toEqual([]);
    // Re-evaluated in the same transaction: no rebuild needed.
    expect(unwrap(await s.getSegment(ctx, atAcme.id))?.memberCount).toBe(0);
    const none = await s.segmentMembers(org, noCompany.id, { fetch: 11, limit: 10 });
    expect(none.edges.map((e) => e.node.id)).toEqual([bob.id]);

    expect(await s.deleteCompany(ctx, acme.id)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it("cannot delete another organization's company, nor without write access", async () => {
    const a = newOrg();
    const b = newOrg();
    const company = unwrap(await crm.services.createCompany(a, { name: 'Acme' }));
    expect(await crm.services.deleteCompany(b, company.id)).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND', entity: 'Company' },
    });
    const viewer = { ...a, role: 'viewer' as const, scopes: ['crm:read' as const] };
    expect(await crm.services.deleteCompany(viewer, company.id)).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(unwrap(await crm.services.getCompany(a, company.id))).not.toBeNull();
  });
});
