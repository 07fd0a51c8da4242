// Incremental segment membership must always equal a full rebuild, whatever happened to the
// contacts in between; and every membership change must be told exactly once as an event.
import { unwrap } from '@mauntic/kernel';
import { and, eq, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDynamicSegments, rebuildSegment } from '../src/app/segment-membership.ts';
import { outbox, segmentMembers } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

type Op =
  | { kind: 'create'; plan: string; revenue: number; tags: string[] }
  | { kind: 'update'; who: number; plan: string; revenue: number }
  | { kind: 'tag'; who: number; add: string[]; remove: string[] }
  | { kind: 'points'; who: number; delta: number }
  | { kind: 'dnc'; who: number; on: boolean }
  | { kind: 'static'; who: number; add: boolean }
  | { kind: 'delete'; who: number };

const tag = fc.constantFrom('vip', 'beta', 'churned');
const plan = fc.constantFrom('free', 'pro', 'enterprise');
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('create' as const),
    plan,
    revenue: fc.integer({ min: 0, max: 200 }),
    tags: fc.uniqueArray(tag, { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('update' as const), who: fc.nat(), plan, revenue: fc.integer({ min: 0, max: 200 }) }),
  fc.record({
    kind: fc.constant('tag' as const),
    who: fc.nat(),
    add: fc.uniqueArray(tag, { maxLength: 2 }),
    remove: fc.uniqueArray(tag, { maxLength: 2 }),
  }),
  fc.record({ kind: fc.constant('points' as const), who: fc.nat(), delta: fc.integer({ min: -10, max: 10 }) }),
  fc.record({ kind: fc.constant('dnc' as const), who: fc.nat(), on: fc.boolean() }),
  fc.record({ kind: fc.constant('static' as const), who: fc.nat(), add: fc.boolean() }),
  fc.record({ kind: fc.constant('delete' as const), who: fc.nat() }),
);

describe.each(DATABASES)('segment membership (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  it('incremental membership equals a full rebuild after random change sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const ctx = newOrg();
        const s = crm.services;
        unwrap(
          await s.createField(ctx, {
            entity: 'contact',
            key: 'plan',
            label: 'Plan',
            type: 'select',
            choices: ['free', 'pro', 'enterprise'],
          }),
        );
        unwrap(await s.createField(ctx, { entity: 'contact', key: 'revenue', label: 'Revenue', type: 'number' }));
        const manual = unwrap(await s.createSegment(ctx, { name: 'manual', kind: 'static' }));
        const filters = [
          { field: 'fields.plan', op: 'eq', value: 'pro' },
          { and: [{ field: 'fields.revenue', op: 'gte', value: 50 }, { tags: { op: 'includesAny', value: ['vip'] } }] },
          { not: { dnc: { channel: 'email', is: true } } },
          { or: [{ field: 'points', op: 'gt', value: 5 }, { tags: { op: 'includesAll', value: ['vip', 'beta'] } }] },
          { and: [{ segment: { id: manual.id, member: true } }, { field: 'fields.plan', op: 'neq', value: 'free' }] },
        ];
        const dynamic = [];
        for (const [i, filter] of filters.entries())
          dynamic.push(unwrap(await s.createSegment(ctx, { name: `d${i}`, filter })));
        const dependent = unwrap(
          await s.createSegment(ctx, {
            name: 'on-d0',
            filter: { and: [{ segment: { id: dynamic[0]!.id, member: true } }, { tags: { op: 'notEmpty' } }] },
          }),
        );
        // Build every dynamic segment once (the background job's work), in dependency order.
        for (const seg of [...dynamic, dependent]) unwrap(await s.rebuildSegment(ctx, seg.id));

        const ids: string[] = [];
        let created = 0;
        const pick = (who: number) => ids[who % ids.length];
        for (const o of ops) {
          if (o.kind === 'create') {
            ids.push(
              unwrap(
                await s.createContact(ctx, {
                  email: `c${created++}-${ctx.organizationId}@example.com`,
                  tags: o.tags,
                  fields: { plan: o.plan, revenue: o.revenue },
                }),
              ).id,
            );
            continue;
          }
          const id = pick(o.who);
          if (!id) continue;
          if (o.kind === 'update') await s.updateContact(ctx, id, { fields: { plan: o.plan, revenue: o.revenue } });
          if (o.kind === 'tag') await s.tagContact(ctx, { contactId: id, add: o.add, remove: o.remove });
          if (o.kind === 'points') await s.adjustPoints(ctx, { contactId: id, delta: o.delta });
          if (o.kind === 'dnc') await s.setDoNotContact(ctx, { contactId: id, channel: 'email', doNotContact: o.on });
          if (o.kind === 'static') await s.changeStaticMembers(ctx, manual.id, [id], o.add ? 'add' : 'remove');
          if (o.kind === 'delete') {
            await s.deleteContact(ctx, id);
            ids.splice(ids.indexOf(id), 1);
          }
        }

        const db = crm.handle.db;
        const segs = await loadDynamicSegments(db, ctx.organizationId);
        for (const seg of segs) {
          const counted = seg.row.memberCount;
          const stats = await db.transaction((tx) => rebuildSegment(tx, crm.services.deps, seg, 'check'));
          // Nothing to add or remove: incremental upkeep had it right, count included.
          expect({ segment: seg.row.name, added: stats.added, removed: stats.removed, count: counted }).toEqual({
            segment: seg.row.name,
            added: 0,
            removed: 0,
            count: stats.memberCount,
          });
          // Entered minus exited events per contact is exactly its membership now.
          const rows = await crm.handle.rows<{ contact: string; net: number }>(sql`
            select ${outbox.key} as contact,
              sum(case when ${outbox.type} = 'crm.segment.entered' then 1 else -1 end)::int as net
            from ${outbox}
            where ${outbox.organizationId} = ${ctx.organizationId}
              and ${outbox.type} in ('crm.segment.entered', 'crm.segment.exited')
              and ${outbox.envelope} -> 'data' ->> 'segmentId' = ${seg.row.id}
            group by 1`);
          const members = await db
            .select({ id: segmentMembers.contactId })
            .from(segmentMembers)
            .where(and(eq(segmentMembers.segmentId, seg.row.id)));
          const inByEvents = rows
            .filter((r) => r.net === 1)
            .map((r) => r.contact)
            .sort();
          expect(rows.every((r) => r.net === 0 || r.net === 1)).toBe(true);
          expect(inByEvents).toEqual(members.map((m) => m.id).sort());
        }
      }),
      { numRuns: 25 },
    );
  });
});
