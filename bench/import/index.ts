// Contact import speed on the real Postgres: a generated CSV (email, names, phone, 3 custom
// fields) imported through the engine, streamed from the file, beside a raw COPY of the same
// file into an unlogged table with the same columns, in the same run.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createCrmServices } from '@mauntic/crm/services';
import { newId, unwrap } from '@mauntic/kernel';
import { createLogger, LocalJobQueue, openDatabase, runMigrations } from '@mauntic/platform';
import type postgres from 'postgres';
import { benchOwner } from '../lib/context.ts';
import { report, small } from '../lib/report.ts';

const rows = small ? 20_000 : 1_000_000;
const batchSize = Number(process.env.IMPORT_BATCH_SIZE ?? 5000);
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';

const handle = await openDatabase({ url: databaseUrl, maxConnections: 4 });
await runMigrations(handle, {
  schema: 'crm',
  folder: fileURLToPath(new URL('../../subgraphs/crm/drizzle', import.meta.url)),
});
const logger = createLogger('bench', 'silent');
const services = createCrmServices({ handle, queue: new LocalJobQueue({ logger }), logger, now: () => new Date() });

const ctx = benchOwner();
const org = ctx.organizationId;
unwrap(
  await services.createField(ctx, {
    entity: 'contact',
    key: 'plan',
    label: 'Plan',
    type: 'select',
    choices: ['free', 'pro', 'enterprise'],
  }),
);
unwrap(
  await services.createField(ctx, { entity: 'contact', key: 'revenue', label: 'Revenue', type: 'number', scale: 2 }),
);
unwrap(await services.createField(ctx, { entity: 'contact', key: 'city', label: 'City', type: 'text' }));

const dir = await mkdtemp(join(tmpdir(), 'mauntic-import-'));
const file = join(dir, 'contacts.csv');
const sql = handle.client as postgres.Sql;
// Dead rows left by an earlier run (this benchmark deletes what it wrote) are vacuumed first, so
// autovacuum does not compete with the run being timed.
const vacuum = () => sql`vacuum analyze crm.contacts, crm.outbox, crm.contact_imports`;
await vacuum();
try {
  let t0 = performance.now();
  await pipeline(
    (function* () {
      yield 'email,first_name,last_name,phone,plan,revenue,city\n';
      const plans = ['free', 'pro', 'enterprise'];
      let block = '';
      for (let i = 1; i <= rows; i++) {
        const phone = `+336${String(10_000_000 + ((i * 7919) % 89_999_999)).padStart(8, '0')}`;
        block += `user${i}@example.com,First${i},"Last, ${i % 5000}",${phone},${plans[i % 3]},${(i % 100_000) / 100},City ${i % 300}\n`;
        if (i % 10_000 === 0) {
          yield block;
          block = '';
        }
      }
      if (block) yield block;
    })(),
    createWriteStream(file),
  );
  const { size } = await stat(file);
  report('import', 'generate_seconds', (performance.now() - t0) / 1000, 's');
  report('import', 'file_mb', size / 1024 / 1024, 'MB');

  // Baseline: COPY of the same file into an unlogged table with the same columns.
  await sql`drop table if exists bench_import_copy`;
  await sql`create unlogged table bench_import_copy (email text, first_name text, last_name text, phone text, plan text, revenue numeric, city text)`;
  t0 = performance.now();
  await pipeline(
    createReadStream(file),
    await sql`copy bench_import_copy from stdin with (format csv, header true)`.writable(),
  );
  const copySeconds = (performance.now() - t0) / 1000;
  await sql`drop table bench_import_copy`;

  t0 = performance.now();
  const summary = unwrap(
    await services.importContacts(ctx, {
      importId: newId(),
      source: createReadStream(file),
      mapping: {
        email: 'email',
        first_name: 'firstName',
        last_name: 'lastName',
        phone: 'phone',
        plan: 'fields.plan',
        revenue: 'fields.revenue',
        city: 'fields.city',
      },
      tags: ['imported'],
      totalBytes: size,
      batchSize,
    }),
  );
  const importSeconds = (performance.now() - t0) / 1000;
  if (summary.status !== 'completed' || summary.rowsDone !== rows || summary.rowsFailed !== 0)
    throw new Error(`import ended ${JSON.stringify(summary)}`);

  report('import', 'rows', rows, 'rows');
  report('import', 'batch_size', batchSize, 'rows');
  report('import', 'import_seconds', importSeconds, 's', copySeconds);
  report('import', 'rows_per_second', rows / importSeconds, 'rows/s', rows / copySeconds);
} finally {
  await rm(dir, { recursive: true, force: true });
  await sql`delete from crm.contact_imports where organization_id = ${org}`;
  await sql`delete from crm.outbox where organization_id = ${org}`;
  await sql`delete from crm.contacts where organization_id = ${org}`;
  await sql`delete from crm.field_definitions where organization_id = ${org}`;
  await vacuum();
  await handle.close();
}
