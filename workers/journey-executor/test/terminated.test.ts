// An executor process whose database connections are terminated (pg_terminate_backend) again and
// again while it walks, as a database failover does: it lives through it (postgres.js 3.4.9 took
// the process down when a connection dropped inside a transaction, which the batch's commit was),
// and every run ends with each step once and each send asked for once.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newId } from '@mauntic/kernel';
import { openDatabase, sql } from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { enrollSegment } from '../../../subgraphs/journey/src/app/enrollment.ts';
import { logger, newOrg, ownPostgres, publish } from '../../../subgraphs/journey/test/fixtures/executor-harness.ts';

const TEMPLATE = '0190a000-0000-7000-8000-000000000001';
/** The fixture's name in pg_stat_activity (runExecutorProcess opens its pool under it). */
const APPLICATION = 'crash-executor';

function startExecutor(url: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./fixtures/executor-process.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, script], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        EXECUTOR_OWNER: `terminated-${newId()}`,
        LOG_LEVEL: 'silent',
        EXECUTOR_BATCH_SIZE: '10',
        EXECUTOR_LANES: '2',
        // The runs of a batch cut off before its commit return soon.
        EXECUTOR_LEASE_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.once('error', reject);
    child.stdout!.once('data', () => resolve(child));
  });
}

describe('an executor whose connections are terminated while it walks', () => {
  let own: Awaited<ReturnType<typeof ownPostgres>>;
  beforeAll(async () => {
    own = await ownPostgres();
  });
  afterAll(async () => {
    await own?.drop();
  });

  it('keeps running, and neither loses a run nor executes a step or asks for a send twice', async () => {
    const handle = await openDatabase({ url: own.url, maxConnections: 4 });
    const ctx = newOrg();
    const segmentId = newId();
    const { journeyId } = await publish(handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'tag',
      steps: {
        tag: { type: 'updateContact', addTags: ['seen'], next: 'check' },
        check: { type: 'condition', filter: { tags: { op: 'includesAny', value: ['seen'] } }, yes: 'mail', no: 'out' },
        mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'out' },
        out: { type: 'exit' },
      },
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const total = 400;
    await handle.script(`
      insert into journey.contacts (id, organization_id, email)
        select gen_random_uuid(), '${ctx.organizationId}', 'c' || g || '@example.com' from generate_series(1, ${total}) g;
      insert into journey.segment_memberships (organization_id, segment_id, contact_id)
        select organization_id, '${segmentId}', id from journey.contacts where organization_id = '${ctx.organizationId}';`);
    const count = async (query: ReturnType<typeof sql>) => (await handle.rows<{ n: number }>(query))[0]!.n;
    const open = () =>
      count(
        sql`select count(*)::int as n from journey.runs where journey_id = ${journeyId} and state in ('ready', 'waiting')`,
      );

    const child = await startExecutor(own.url);
    let exited: string | null = null;
    child.once('exit', (code, signal) => {
      exited = `${signal ?? code}`;
    });
    onTestFinished(() => {
      if (exited === null) child.kill('SIGKILL');
    });
    // Waves of runs (the journey enters every time), until enough connections were terminated
    // mid-work: a fast machine walks one wave before a connection is a second old.
    let waves = 0;
    const enroll = async () => {
      const entered = await enrollSegment({ handle, logger, now: () => new Date() }, ctx, { journeyId, segmentId });
      expect(entered).toMatchObject({ ok: true, value: { entered: total } });
      waves += 1;
    };
    await enroll();

    // Its connections (this test's database only) terminated while they work (a statement or a
    // transaction open), looked for every 200 ms until 40 were or the last wave ended; not in their first second,
    // when postgres.js reads the array types on a new connection: a connection dropped then
    // crashes it whatever the caller does (an unhandled rejection in postgres.js 3.4.9).
    let terminations = 0;
    const deadline = Date.now() + 90_000;
    while (terminations < 40 && exited === null && Date.now() < deadline) {
      if ((await open()) === 0) {
        if (terminations > 5 || waves >= 10) break;
        await enroll();
      }
      const [row] = await handle.rows<{ n: number }>(sql`
        select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where application_name = ${APPLICATION} and datname = current_database()
          and state <> 'idle' and backend_start < now() - interval '1 second'`);
      terminations += row!.n;
      await new Promise((r) => setTimeout(r, 200));
    }
    while ((await open()) > 0 && exited === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(exited).toBeNull();
    expect(terminations).toBeGreaterThan(5);
    expect(await open()).toBe(0);

    expect(
      await count(
        sql`select count(*)::int as n from journey.runs where journey_id = ${journeyId} and state = 'exited'`,
      ),
    ).toBe(total * waves);
    expect(await count(sql`select count(*)::int as n from journey.step_log where journey_id = ${journeyId}`)).toBe(
      total * waves * 4,
    );
    const sends = await handle.rows<{ n: number; keys: number }>(sql`
      select count(*)::int as n, count(distinct envelope::jsonb -> 'data' ->> 'idempotencyKey')::int as keys
      from journey.outbox where organization_id = ${ctx.organizationId} and type = 'delivery.message.requested'`);
    expect(sends[0]).toEqual({ n: total * waves, keys: total * waves });
    expect(
      await count(
        sql`select count(*)::int as n from journey.outbox where organization_id = ${ctx.organizationId} and type = 'journey.step.completed'`,
      ),
    ).toBe(total * waves * 4);
    await handle.close();
  }, 120_000);
});
