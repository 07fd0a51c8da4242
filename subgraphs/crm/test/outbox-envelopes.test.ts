// The envelopes CRM builds in SQL (a segment rebuild's and a static move-by-filter's
// entered/exited events, an import batch's created/updated events) are held to the kernel
// catalogue like those built with createEvent: every outbox row these paths write must parse.
import { Readable } from 'node:stream';
import { eventDefinition, newId, parseEvent, unwrap } from '@mauntic/kernel';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

describe.each(DATABASES)('envelopes built in SQL (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  /** Every outbox row of the organization, parsed against the catalogue; throws on the first that does not. */
  const parsedOutbox = async (organizationId: string) => {
    const rows = await crm.handle.db.select().from(outbox).where(eq(outbox.organizationId, organizationId));
    return rows.map((row) => {
      const event = parseEvent(row.envelope);
      expect(event).toMatchObject({ id: row.id, type: row.type, organizationId, subject: { id: row.key } });
      expect(event.subject.type).toBe(eventDefinition(event.type, event.version)?.subjectType);
      return event;
    });
  };
  const countOf = (events: { type: string }[], type: string) => events.filter((e) => e.type === type).length;

  it('an import writes created and updated events that the catalogue accepts', async () => {
    const ctx = newOrg();
    const s = crm.services;
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'revenue', label: 'Revenue', type: 'number' }));
    const stage = unwrap(await s.createStage(ctx, { name: 'Lead', position: 0 }));
    const mapping = {
      email: 'email',
      first: 'firstName',
      stage: 'stageId',
      points: 'points',
      revenue: 'fields.revenue',
    };
    const run = (csv: string) =>
      s.importContacts(ctx, { importId: newId(), source: Readable.from([Buffer.from(csv)]), mapping, tags: ['csv'] });
    unwrap(await run(`email,first,stage,points,revenue\na@example.com,A,${stage.id},3,1.5\nb@example.com,,,,\n`));
    unwrap(await run('email,first,stage,points,revenue\na@example.com,Ann,,,2\n'));

    const events = await parsedOutbox(ctx.organizationId);
    expect(countOf(events, 'crm.contact.created')).toBe(2);
    expect(countOf(events, 'crm.contact.updated')).toBe(1);
  });

  it('a rebuild and a static move by filter write entered and exited events that the catalogue accepts', async () => {
    const ctx = newOrg();
    const s = crm.services;
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'plan', label: 'Plan', type: 'text' }));
    for (const [email, plan] of [
      ['a@example.com', 'pro'],
      ['b@example.com', 'pro'],
      ['c@example.com', 'free'],
    ])
      unwrap(await s.createContact(ctx, { email, fields: { plan } }));
    const pro = { field: 'fields.plan', op: 'eq', value: 'pro' };
    const dynamic = unwrap(await s.createSegment(ctx, { name: 'pro', filter: pro }));
    unwrap(await s.rebuildSegment(ctx, dynamic.id));
    // Changed behind CRM's back, so only the rebuild's diff sees that b left.
    await crm.handle.db.execute(
      sql`update crm.contacts set fields = '{"plan":"free"}' where organization_id = ${ctx.organizationId} and email = 'b@example.com'`,
    );
    unwrap(await s.rebuildSegment(ctx, dynamic.id));
    const chosen = unwrap(await s.createSegment(ctx, { name: 'chosen', kind: 'static' }));
    unwrap(
      await s.changeStaticMembers(ctx, chosen.id, { filter: { field: 'email', op: 'endsWith', value: '.com' } }, 'add'),
    );
    unwrap(
      await s.changeStaticMembers(
        ctx,
        chosen.id,
        { filter: { field: 'fields.plan', op: 'eq', value: 'free' } },
        'remove',
      ),
    );

    const events = await parsedOutbox(ctx.organizationId);
    // Rebuilds: a and b entered, then b exited; by filter: three entered, two (b and c) exited.
    expect(countOf(events, 'crm.segment.entered')).toBe(5);
    expect(countOf(events, 'crm.segment.exited')).toBe(3);
  });
});
