// Two executor processes side by side, each killed with SIGKILL in the middle of its batches (or of
// its set-based wakes of due delays) and started again under its name: every run ends, every step
// ran once, every send was asked once.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newId } from '@mauntic/kernel';
import { openDatabase, sql } from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { enrollSegment } from '../../../subgraphs/journey/src/app/enrollment.ts';
import {
  addContact,
  logger,
  newOrg,
  ownPostgres,
  publish,
} from '../../../subgraphs/journey/test/fixtures/executor-harness.ts';

const TEMPLATE = '0190a000-0000-7000-8000-000000000001';

function executorStarter(
  url: string,
  owner: string,
  settings: Record<string, string> = {},
): () => Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./fixtures/executor-process.ts', import.meta.url));
  return () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, script], {
        env: {
          ...process.env,
          DATABASE_URL: url,
          EXECUTOR_OWNER: owner,
          LOG_LEVEL: 'silent',
          EXECUTOR_BATCH_SIZE: '20',
          EXECUTOR_LANES: '2',
          ...settings,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.once('error', reject);
      child.stdout!.once('data', () => resolve(child));
    });
}

async function until(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 90_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

/** How many of the journey's runs are in one of `states`. */
const runsIn = (count: (query: ReturnType<typeof sql>) => Promise<number>, journeyId: string, states: string[]) =>
  count(sql`select count(*)::int as n from journey.runs where journey_id = ${journeyId} and state in ${states}`);

describe('executors killed with SIGKILL mid-batch', () => {
  let own: Awaited<ReturnType<typeof ownPostgres>>;
  beforeAll(async () => {
    own = await ownPostgres();
  });
  afterAll(async () => {
    await own?.drop();
  });

  it('neither lose a run nor execute a step or ask for a send twice', async () => {
    const handle = await openDatabase({ url: own.url, maxConnections: 4 });
    const ctx = newOrg();
    const segmentId = newId();
    const { journeyId } = await publish(handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'tag',
      steps: {
        tag: { type: 'updateContact', addTags: ['seen'], next: 'check' },
        check: { type: 'condition', filter: { tags: { op: 'includesAny', value: ['seen'] } }, yes: 'ab', no: 'out' },
        ab: {
          type: 'split',
          branches: [
            { weight: 50, next: 'mail' },
            { weight: 50, next: 'mail' },
          ],
        },
        mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'out' },
        out: { type: 'exit' },
      },
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const total = 600;
    for (let i = 0; i < total; i++) await addContact(handle, ctx.organizationId, { segments: [segmentId] });
    const count = async (query: ReturnType<typeof sql>) => (await handle.rows<{ n: number }>(query))[0]!.n;
    const logged = () => count(sql`select count(*)::int as n from journey.step_log where journey_id = ${journeyId}`);

    // Small batches, one lane: on a quiet machine the default walked all 3,000 steps before the
    // first kill could land.
    const slow = { EXECUTOR_BATCH_SIZE: '5', EXECUTOR_LANES: '1' };
    const starters = [
      executorStarter(own.url, `crash-a-${newId()}`, slow),
      executorStarter(own.url, `crash-b-${newId()}`, slow),
    ];
    let children = await Promise.all(starters.map((start) => start()));
    const entered = await enrollSegment({ handle, logger, now: () => new Date() }, ctx, { journeyId, segmentId });
    expect(entered).toMatchObject({ ok: true, value: { entered: total } });
    // Killed twice, each time while runs are still being walked, then started again.
    for (const share of [0.2, 0.6]) {
      await until(async () => (await logged()) >= share * total * 5, `${share * 100}% of the steps`);
      expect(await logged()).toBeLessThan(total * 5);
      await Promise.all(children.map(kill));
      children = await Promise.all(starters.map((start) => start()));
    }
    await until(async () => (await runsIn(count, journeyId, ['ready', 'waiting'])) === 0, 'every run to end');
    await Promise.all(children.map(kill));

    expect(await runsIn(count, journeyId, ['exited'])).toBe(total);
    expect(await logged()).toBe(total * 5);
    const sends = await handle.rows<{ n: number; keys: number }>(sql`
      select count(*)::int as n, count(distinct envelope::jsonb -> 'data' ->> 'idempotencyKey')::int as keys
      from journey.outbox where organization_id = ${ctx.organizationId} and type = 'delivery.message.requested'`);
    expect(sends[0]).toEqual({ n: total, keys: total });
    expect(
      await count(
        sql`select count(*)::int as n from journey.outbox where organization_id = ${ctx.organizationId} and type = 'journey.step.completed'`,
      ),
    ).toBe(total * 5);
    await handle.close();
  });

  it('killed while due delays wake in chunks, neither lose a run nor log a delay or its event twice', async () => {
    const handle = await openDatabase({ url: own.url, maxConnections: 4 });
    const ctx = newOrg();
    const segmentId = newId();
    const { journeyId } = await publish(handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'wait',
      steps: {
        wait: { type: 'delay', wait: { duration: '2 seconds' }, next: 'tag' },
        tag: { type: 'updateContact', addTags: ['woken'], next: 'out' },
        out: { type: 'exit' },
      },
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const total = 600;
    await handle.script(`
      insert into journey.contacts (id, organization_id, email)
        select gen_random_uuid(), '${ctx.organizationId}', 'c' || g || '@example.com' from generate_series(1, ${total}) g;
      insert into journey.segment_memberships (organization_id, segment_id, contact_id)
        select organization_id, '${segmentId}', id from journey.contacts where organization_id = '${ctx.organizationId}';`);
    const count = async (query: ReturnType<typeof sql>) => (await handle.rows<{ n: number }>(query))[0]!.n;
    const woken = () =>
      count(sql`select count(*)::int as n from journey.step_log where journey_id = ${journeyId} and step_id = 'wait'`);

    // One run a chunk: the wake takes as many statements, and the kills fall among them.
    const settings = { EXECUTOR_WAKE_SIZE: '1' };
    const starters = [
      executorStarter(own.url, `wake-a-${newId()}`, settings),
      executorStarter(own.url, `wake-b-${newId()}`, settings),
    ];
    let children = await Promise.all(starters.map((start) => start()));
    // Killed whatever happens, so that no executor outlives the test.
    onTestFinished(async () => {
      await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map(kill));
    });
    const entered = await enrollSegment({ handle, logger, now: () => new Date() }, ctx, { journeyId, segmentId });
    expect(entered).toMatchObject({ ok: true, value: { entered: total } });
    for (const share of [0.2, 0.6]) {
      let seen = 0;
      await until(
        async () => {
          seen = await woken();
          return seen >= share * total;
        },
        `${share * 100}% of the delays woken`,
      );
      expect(seen).toBeLessThan(total);
      await Promise.all(children.map(kill));
      children = await Promise.all(starters.map((start) => start()));
    }
    await until(async () => (await runsIn(count, journeyId, ['ready', 'waiting'])) === 0, 'every run to end');
    await Promise.all(children.map(kill));

    expect(await runsIn(count, journeyId, ['exited'])).toBe(total);
    expect(await woken()).toBe(total);
    expect(await count(sql`select count(*)::int as n from journey.step_log where journey_id = ${journeyId}`)).toBe(
      total * 3,
    );
    const delays = await handle.rows<{ n: number; runs: number }>(sql`
      select count(*)::int as n, count(distinct envelope::jsonb -> 'data' ->> 'runId')::int as runs
      from journey.outbox where organization_id = ${ctx.organizationId} and type = 'journey.step.completed'
        and envelope::jsonb -> 'data' ->> 'stepId' = 'wait'`);
    expect(delays[0]).toEqual({ n: total, runs: total });
    await handle.close();
  }, 120_000);
});
