// Segment speed on the real Postgres: three representative segments over generated contacts
// (10 custom fields, tags) and activities. For each, the full rebuild (a set-based diff and apply)
// beside a plain `SELECT count(*)` of the same predicate in the same run; then the latency of
// keeping membership current after single-contact updates, beside the bare UPDATE.
import { fileURLToPath } from 'node:url';
import { loadDynamicSegments, rebuildSegment } from '@mauntic/crm/segment-membership';
import { compileFilter } from '@mauntic/crm/segment-sql';
import { createCrmServices } from '@mauntic/crm/services';
import { unwrap } from '@mauntic/kernel';
import { createLogger, LocalJobQueue, openDatabase, runMigrations, sql } from '@mauntic/platform';
import { benchOwner } from '../lib/context.ts';
import { percentile, report, small } from '../lib/report.ts';

const contacts = small ? 20_000 : 1_000_000;
const activitiesPerContact = 5;
const updates = small ? 50 : 500;
/** Updates run first and not counted, for both paths alike (JIT, caches, connections). */
const warmUp = small ? 5 : 30;
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';

const handle = await openDatabase({ url: databaseUrl, maxConnections: 4 });
await runMigrations(handle, {
  schema: 'crm',
  folder: fileURLToPath(new URL('../../subgraphs/crm/drizzle', import.meta.url)),
});
const logger = createLogger('bench', 'silent');
const queue = new LocalJobQueue({ logger });
const services = createCrmServices({ handle, queue, logger, now: () => new Date() });
for (const job of services.jobs()) queue.register(job);
// The queue is not started: this benchmark runs each rebuild itself, and times it.

const ctx = benchOwner();
const org = ctx.organizationId;

const fields: Parameters<typeof services.createField>[1][] = [
  { entity: 'contact', key: 'plan', label: 'Plan', type: 'select', choices: ['free', 'pro', 'enterprise'] },
  { entity: 'contact', key: 'revenue', label: 'Revenue', type: 'number', scale: 2 },
  { entity: 'contact', key: 'country', label: 'Country', type: 'country' },
  { entity: 'contact', key: 'signup', label: 'Signed up', type: 'date' },
  { entity: 'contact', key: 'beta', label: 'Beta', type: 'boolean' },
  { entity: 'contact', key: 'score', label: 'Score', type: 'number' },
  {
    entity: 'contact',
    key: 'industry',
    label: 'Industry',
    type: 'select',
    choices: ['retail', 'saas', 'media', 'health'],
  },
  { entity: 'contact', key: 'city', label: 'City', type: 'text' },
  { entity: 'contact', key: 'renewal', label: 'Renewal', type: 'date' },
  { entity: 'contact', key: 'seats', label: 'Seats', type: 'number' },
];
for (const f of fields) unwrap(await services.createField(ctx, f));

let t0 = performance.now();
await handle.script(`
  insert into crm.contacts (id, organization_id, email, first_name, last_name, points, tags, fields, created_at, updated_at)
  select crm.uuid_v7(), '${org}', 'user' || g || '@example.com', 'First' || g, 'Last' || (g % 5000), (g % 100),
    case g % 5 when 0 then '{}'::text[] when 1 then '{vip}' when 2 then '{beta}' when 3 then '{vip,beta}' else '{churned}' end,
    jsonb_build_object(
      'plan', (array['free','pro','enterprise'])[1 + g % 3],
      'revenue', round((random() * 1000)::numeric, 2),
      'country', (array['US','FR','DE','GB','JP','BR'])[1 + g % 6],
      'signup', to_char(date '2024-01-01' + (g % 700), 'YYYY-MM-DD'),
      'beta', g % 7 = 0,
      'score', g % 1000,
      'industry', (array['retail','saas','media','health'])[1 + g % 4],
      'city', 'City ' || (g % 300),
      'renewal', to_char(date '2026-01-01' + (g % 365), 'YYYY-MM-DD'),
      'seats', 1 + g % 50),
    now() - ((g % 365) || ' days')::interval, now()
  from generate_series(1, ${contacts}) g;
`);
await handle.script(`
  insert into crm.activities (id, organization_id, contact_id, type, subject, properties, occurred_at)
  select crm.uuid_v7(), '${org}', c.id,
    (array['email.opened','email.clicked','page.visited','form.submitted'])[1 + floor(random() * 4)::int],
    'email-' || floor(random() * 5)::int, '{}'::jsonb, now() - random() * interval '90 days'
  from (select id from crm.contacts where organization_id = '${org}') c,
    generate_series(1, ${activitiesPerContact}) n;
  analyze crm.contacts; analyze crm.activities;
`);
report('segments', 'generate_rows', contacts * (1 + activitiesPerContact), 'rows');
report('segments', 'generate_seconds', (performance.now() - t0) / 1000, 's');

const segmentsToTime = [
  {
    metric: 'fields',
    filter: {
      and: [
        { field: 'fields.plan', op: 'eq', value: 'pro' },
        { field: 'fields.revenue', op: 'gte', value: 500 },
        { field: 'fields.country', op: 'in', value: ['US', 'FR', 'DE'] },
      ],
    },
  },
  {
    metric: 'tags_relative_date',
    filter: {
      and: [{ tags: { op: 'includesAny', value: ['vip'] } }, { field: 'createdAt', op: 'gte', value: '-30 days' }],
    },
  },
  {
    metric: 'behavioral',
    filter: {
      and: [
        { behavior: { type: 'email.opened', subject: 'email-1', count: { op: 'gte', value: 2 }, within: '30 days' } },
        { field: 'fields.plan', op: 'neq', value: 'free' },
      ],
    },
  },
];

for (const { metric, filter } of segmentsToTime) {
  const segment = unwrap(await services.createSegment(ctx, { name: metric, filter }));
  const loaded = (await loadDynamicSegments(handle.db, org)).find((s) => s.row.id === segment.id)!;
  const predicate = compileFilter(loaded.node, {
    organizationId: org,
    now: new Date(),
    timeZone: 'UTC',
    mode: 'rebuild',
  });
  // Baseline: the bare count of the same predicate (run twice; the second, warm, is timed).
  const count = async () => {
    const started = performance.now();
    const [row] = await handle.rows<{ n: number }>(
      sql`select count(*)::int as n from crm.contacts where organization_id = ${org} and (${predicate})`,
    );
    return { n: row!.n, ms: performance.now() - started };
  };
  await count();
  const baseline = await count();
  t0 = performance.now();
  const first = await handle.db.transaction((tx) => rebuildSegment(tx, services.deps, loaded, 'bench'));
  const initial = performance.now() - t0;
  // The rebuild of a built segment, run twice like the baseline and the second timed: the first
  // pass over just-written membership rows also sets their hint bits, which a segment rebuilt
  // on schedule long after its first build never pays.
  await handle.db.transaction((tx) => rebuildSegment(tx, services.deps, loaded, 'bench'));
  t0 = performance.now();
  const again = await handle.db.transaction((tx) => rebuildSegment(tx, services.deps, loaded, 'bench'));
  const rebuild = performance.now() - t0;
  if (first.memberCount !== baseline.n || again.added + again.removed !== 0)
    throw new Error(`${metric}: rebuild found ${first.memberCount}, count found ${baseline.n}`);
  report('segments', `${metric}_members`, baseline.n, 'contacts');
  // The rebuild of a built segment (nothing moved) and the first build, which also writes a
  // membership row and an entered event per member; both beside the bare count.
  report('segments', `${metric}_rebuild_ms`, rebuild, 'ms', baseline.ms);
  report('segments', `${metric}_initial_build_ms`, initial, 'ms', baseline.ms);
}

// Incremental: single-contact updates through the use case (event + re-evaluation of the
// segments that read `fields.revenue`), beside the same UPDATE alone. The builds above just
// wrote ~120,000 membership and outbox rows; they are vacuumed first, as autovacuum would soon
// do, so its run on them does not land inside the timed updates of either path.
await handle.script('vacuum analyze crm.contacts, crm.segment_members, crm.outbox');
const sample = await handle.rows<{ id: string }>(
  sql`select id from crm.contacts where organization_id = ${org} order by random() limit ${updates + warmUp}`,
);
const withUpkeep: number[] = [];
const bare: number[] = [];
for (const [i, { id }] of sample.entries()) {
  let started = performance.now();
  unwrap(await services.updateContact(ctx, id, { fields: { revenue: (i * 37) % 1000 } }));
  if (i >= warmUp) withUpkeep.push(performance.now() - started);
  started = performance.now();
  await handle.db.execute(
    sql`update crm.contacts set fields = fields || ${JSON.stringify({ seats: i % 50 })}::jsonb, updated_at = now() where id = ${id}`,
  );
  if (i >= warmUp) bare.push(performance.now() - started);
}
withUpkeep.sort((a, b) => a - b);
bare.sort((a, b) => a - b);
report('segments', 'incremental_update_p50_ms', percentile(withUpkeep, 50), 'ms', percentile(bare, 50));
report('segments', 'incremental_update_p99_ms', percentile(withUpkeep, 99), 'ms', percentile(bare, 99));

// Leave nothing behind: this organization's rows go.
for (const table of ['segment_members', 'outbox', 'activities', 'segments', 'contacts', 'field_definitions'])
  await handle.script(`delete from crm.${table} where organization_id = '${org}'`);
await handle.close();
