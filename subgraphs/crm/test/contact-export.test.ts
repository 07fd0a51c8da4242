// Contact exports as streamed downloads: a signed, expiring link from the use case, and the CRM
// HTTP route that streams the CSV (chunked) for that link's organization only.
import { type OrganizationId, unwrap } from '@mauntic/kernel';
import { createLogger, type RunningHttpServer, startHttpServer } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTACT_EXPORT_PATH, EXPORT_LINK_TTL_MS } from '../src/app/export-contacts.ts';
import { crmHttpRoutes } from '../src/http/contact-export.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

describe.each(DATABASES)('contact export downloads (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  let http: RunningHttpServer;
  let clock = new Date();
  const ctx = newOrg();

  beforeAll(async () => {
    crm = await openCrm(open, () => clock);
    http = await startHttpServer(
      { service: 'crm-test', logger: createLogger('test', 'silent'), routes: crmHttpRoutes(crm.services) },
      0,
      '127.0.0.1',
    );
    unwrap(await crm.services.createField(ctx, { entity: 'contact', key: 'plan', label: 'Plan', type: 'text' }));
    // More than one export page (2,000), so the stream has to go on reading. Written set-based:
    // the fixture is not what is under test.
    await crm.handle.db.execute(sql`insert into crm.contacts (id, organization_id, email, first_name, fields)
      select gen_random_uuid(), ${ctx.organizationId}::uuid, 'c' || g || '@example.com', 'Ann, "the" first',
        jsonb_build_object('plan', case when g % 2 = 1 then 'pro' else 'free' end)
      from generate_series(0, 2399) as g`);
  });
  afterAll(async () => {
    await http?.close();
    await crm?.close();
  });

  const download = (url: string) => fetch(`${http.url}${url}`);

  it('streams every contact matching a filter as chunked CSV', async () => {
    const link = unwrap(
      await crm.services.createContactExport(ctx, {
        filter: { field: 'email', op: 'endsWith', value: '@example.com' },
      }),
    );
    expect(link.url.startsWith(`${CONTACT_EXPORT_PATH}?token=`)).toBe(true);
    expect(link.expiresAt.getTime()).toBe(clock.getTime() + EXPORT_LINK_TTL_MS);
    const response = await download(link.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    expect(response.headers.get('content-length')).toBeNull();
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="contacts-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const lines = (await response.text()).trimEnd().split('\n');
    expect(lines[0]).toBe('id,email,firstName,lastName,phone,timezone,locale,points,tags,createdAt,plan');
    expect(lines).toHaveLength(2401);
    const emails = lines.slice(1).map((l) => l.split(',')[1]);
    expect(new Set(emails).size).toBe(2400);
    expect(lines[1]).toContain('"Ann, ""the"" first"');
    expect(lines.slice(1).filter((l) => l.endsWith(',pro'))).toHaveLength(1200);
  });

  it("exports a segment's members", async () => {
    const s = crm.services;
    const seg = unwrap(await s.createSegment(ctx, { name: 'few', kind: 'static' }));
    const picked = (await s.listContacts(ctx, { first: 3, sort: 'EMAIL_ASC' })) as { ok: true; value: any };
    const ids = picked.value.edges.map((e: { node: { id: string } }) => e.node.id);
    unwrap(await s.changeStaticMembers(ctx, seg.id, { contactIds: ids }, 'add'));
    const link = unwrap(await s.createContactExport(ctx, { segmentId: seg.id }));
    const lines = (await (await download(link.url)).text()).trimEnd().split('\n');
    expect(
      lines
        .slice(1)
        .map((l) => l.split(',')[0])
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('refuses bad requests with typed errors', async () => {
    const s = crm.services;
    expect(await s.createContactExport(ctx, { segmentId: crypto.randomUUID() })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(await s.createContactExport(ctx, { filter: { field: 'fields.nope', op: 'eq', value: 1 } })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED', issues: [{ path: ['input', 'filter', 'field'] }] },
    });
    const seg = unwrap(await s.createSegment(ctx, { name: 's', kind: 'static' }));
    expect(await s.createContactExport(ctx, { segmentId: seg.id, filter: { tags: { op: 'empty' } } })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED' },
    });
    // Another organization cannot ask for this one's segment.
    expect(await s.createContactExport(newOrg(), { segmentId: seg.id })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    const anonymous = { correlationId: 'c', actor: { type: 'anonymous' as const }, scopes: [] };
    expect(await s.createContactExport(anonymous, {})).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
  });

  it('serves a link only untampered, unexpired and for its own organization', async () => {
    const link = unwrap(await crm.services.createContactExport(ctx, {}));
    const [payload, signature] = link.token.split('.') as [string, string];
    // The same claims bound to another organization, keeping the signature: refused.
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const other = newOrg().organizationId as OrganizationId;
    const rebound = `${Buffer.from(JSON.stringify({ ...claims, org: other })).toString('base64url')}.${signature}`;
    for (const token of [rebound, `${payload}.${'A'.repeat(43)}`, 'garbage', ''])
      expect((await download(`${CONTACT_EXPORT_PATH}?token=${encodeURIComponent(token)}`)).status).toBe(401);
    expect((await download(CONTACT_EXPORT_PATH)).status).toBe(401);
    expect((await fetch(`${http.url}${link.url}`, { method: 'POST', body: 'x' })).status).toBe(405);

    // Another organization's link serves only that organization's (no) contacts.
    const theirs = unwrap(await crm.services.createContactExport(newOrg(), {}));
    expect((await (await download(theirs.url)).text()).trimEnd().split('\n')).toHaveLength(1);

    const saved = clock;
    clock = new Date(saved.getTime() + EXPORT_LINK_TTL_MS + 1);
    try {
      const expired = await download(link.url);
      expect(expired.status).toBe(401);
      expect(await expired.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    } finally {
      clock = saved;
    }
    expect((await download(link.url)).status).toBe(200);
  });
});
