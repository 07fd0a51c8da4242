// The engine side of `pnpm bench send`: N engine processes (BENCH_ENGINE_PROCESSES, default 2) on
// the real Postgres send `count` personalised, tracked emails to the sink; timed from the first
// send request to the last message recorded as accepted. With `kills`, engine processes are
// killed with SIGKILL during the run and restarted under the same name.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deliveryModule } from '@mauntic/delivery';
import { enqueueMessages } from '@mauntic/delivery/engine';
import { createDeliveryServices } from '@mauntic/delivery/services';
import { type RequestContext, unwrap } from '@mauntic/kernel';
import {
  createLogger,
  type DatabaseHandle,
  EMBEDDED_OUTBOUND_ALLOWED,
  LocalJobQueue,
  openDatabase,
  outboundGuard,
  parseAllowList,
  runMigrations,
  sql,
} from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { benchOwner } from '../lib/context.ts';
import { BENCH_DOMAIN, BENCH_FROM } from './message.ts';

export interface EngineRunOptions {
  count: number;
  sinkUrl: string;
  kills: number;
  /** Send from a sending domain, so every message is DKIM-signed (RSA-2048 and Ed25519) and VERP-addressed. */
  dkim?: boolean;
}

export interface EngineRunResult {
  requests: number;
  seconds: number;
  processes: number;
  /**
   * CPU the engine processes used (all their threads, user and system) over the timed part of
   * the run, from /proc: less sensitive than `seconds` to other load on a shared machine.
   */
  cpuSeconds: number;
}

export const PUBLIC_BASE_URL = 'https://t.mauntic.example';
export const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
const processes = Number(process.env.BENCH_ENGINE_PROCESSES ?? 2);
// 2 × 16: as many connections as the nodemailer loop has; each carries two messages at a time.
const connectionsPerProcess = Number(process.env.BENCH_ENGINE_CONNECTIONS ?? 16);

const PRODUCTS = [
  'Field notebook',
  'Walnut desk lamp',
  'Merino travel scarf',
  'Ceramic pour-over set',
  'Canvas weekender bag',
];

/** About 10 KB of HTML once rendered: personalised greeting, five tracked product links, footer. */
function templateHtml(): string {
  const cards = PRODUCTS.map(
    (p, k) => `<tr><td class="card"><h2 style="font-family:Arial,sans-serif;color:#222">${p}</h2>
<p style="font-family:Arial,sans-serif;color:#555;line-height:1.5">Picked for {{contact.fields.plan}} members in {{contact.fields.city}}.
${'Hand-finished, made to last, and chosen by our team after weeks of use. '.repeat(6)}</p>
<p><a class="btn" href="https://shop.mauntic.example/p/${k + 1}?utm_source=mail&utm_campaign=weekly">See the ${p.toLowerCase()}</a></p></td></tr>`,
  ).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Your {{contact.fields.plan}} picks</title>
<style>body{margin:0;padding:0;background:#f4f4f7}.card{background:#fff;border-radius:6px;margin:12px 0;padding:16px}
a.btn{background:#3b5bdb;color:#fff;padding:10px 18px;border-radius:4px;text-decoration:none}</style></head>
<body><table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0">
<tr><td><h1 style="font-family:Arial,sans-serif;color:#222">Hello {{contact.firstName}},</h1>
<p style="font-family:Arial,sans-serif;color:#444">Our {{contact.fields.plan}} selection for {{contact.fields.city}}.</p></td></tr>
${cards}
<tr><td style="font-family:Arial,sans-serif;font-size:12px;color:#888;padding:24px 0">You receive this as a {{contact.fields.plan}} member.
<a href="{{unsubscribeUrl}}">Unsubscribe</a> or <a href="{{preferencesUrl}}">change your preferences</a>.</td></tr>
</table></td></tr></table></body></html>`;
}

export async function runEngine(options: EngineRunOptions): Promise<EngineRunResult> {
  const run = await setUpRun(options.count, new URL(options.sinkUrl), undefined, options.dkim);
  const journalDir = mkdtempSync(join(tmpdir(), 'bench-engine-'));
  const engines = await startEngines(run.keys, journalDir);

  const cpu0 = engines.cpuSeconds();
  const t0 = performance.now();
  await enqueueAudience(run);
  await untilSettled(run.handle, run.org, options, engines);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = engines.cpuSeconds() - cpu0;

  await engines.stop();
  await reportAndRemove(run.handle, run.org);
  await run.handle.close();
  rmSync(journalDir, { recursive: true, force: true });
  return { requests: run.audience.length, seconds, processes, cpuSeconds };
}

/** What a run sends with: the bench organization, its sender, its audience (not yet queued). */
export interface BenchRun {
  handle: DatabaseHandle;
  keys: BenchKeys;
  org: string;
  templateId: string;
  audience: { id: string; email: string }[];
}

/**
 * A fresh organization on the database at DATABASE_URL with a template, an SMTP provider on the
 * sink (limited to `ratePerSecond` if given: the limiter then runs in Redis for worker engines)
 * and `count` contacts.
 */
export async function setUpRun(count: number, sink: URL, ratePerSecond?: number, dkim = false): Promise<BenchRun> {
  const handle = await openDatabase({ url: databaseUrl, maxConnections: 4 });
  await runMigrations(handle, deliveryModule().migrations);
  const keys: BenchKeys = { encryptionKey: randomBytes(32), trackingSecret: randomBytes(32).toString('base64url') };
  const ctx = benchOwner();
  const templateId = await setUpSender(handle, keys, ctx, sink, ratePerSecond, dkim);
  const audience = await seedAudience(handle, ctx.organizationId, count);
  return { handle, keys, org: ctx.organizationId, templateId, audience };
}

export interface BenchKeys {
  encryptionKey: Buffer;
  trackingSecret: string;
}

/** The bench organization's template and its SMTP provider pointing at the sink. Returns the template id. */
async function setUpSender(
  handle: DatabaseHandle,
  keys: BenchKeys,
  ctx: RequestContext,
  sink: URL,
  ratePerSecond?: number,
  dkim = false,
): Promise<string> {
  const logger = createLogger('bench', 'silent');
  const services = createDeliveryServices({
    handle,
    queue: new LocalJobQueue({ logger }),
    logger,
    now: () => new Date(),
    encryptionKey: keys.encryptionKey,
    trackingKey: Buffer.from(keys.trackingSecret, 'utf8'),
    publicBaseUrl: PUBLIC_BASE_URL,
    // The SMTP sink listens on loopback, which providers may point at only when allowed.
    outbound: outboundGuard({ allow: parseAllowList(EMBEDDED_OUTBOUND_ALLOWED) }),
  });
  const template = unwrap(
    await services.createTemplate(ctx, {
      name: 'weekly',
      channel: 'email',
      source: {
        html: templateHtml(),
        subject: '{{contact.firstName}}, your {{contact.fields.plan}} picks for {{contact.fields.city}} this week',
        fromName: 'Mauntic Bench',
        fromAddress: BENCH_FROM,
      },
    }),
  );
  unwrap(
    await services.createProviderConfig(ctx, {
      name: 'sink',
      kind: 'smtp',
      config: { host: sink.hostname, port: Number(sink.port), pool: { maxConnections: connectionsPerProcess } },
      isDefault: true,
      ...(ratePerSecond ? { ratePerSecond } : {}),
    }),
  );
  if (dkim) {
    // The From domain as a sending domain: its two DKIM keys sign every message. Marked verified
    // here (the benchmark publishes no DNS; the tests check records against a real server).
    const domain = unwrap(await services.addSendingDomain(ctx, { domain: BENCH_FROM.split('@')[1]! }));
    await handle.rows(sql`update delivery.sending_domains set status = 'verified' where id = ${domain.id}`);
  }
  return template.id;
}

/** The audience: contacts as CRM's events would have put them in delivery's copy. */
async function seedAudience(handle: DatabaseHandle, org: string, count: number) {
  await handle.rows(sql`
    insert into delivery.contacts (id, organization_id, email, first_name, last_name, fields)
    select gen_random_uuid(), ${org}, 'user' || i || '@' || ${BENCH_DOMAIN},
      (array['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','Ken','Radia','Linus','Margaret'])[1 + i % 11],
      (array['Lovelace','Hopper','Turing','Dijkstra','Liskov'])[1 + (i / 8) % 5],
      jsonb_build_object('city', (array['Lyon','Porto','Gdansk','Leeds','Ghent','Turin'])[1 + (i * 7) % 6],
                         'plan', (array['free','pro','enterprise'])[1 + i % 3])
    from generate_series(0, ${count - 1}) as i`);
  return handle.rows<{ id: string; email: string }>(
    sql`select id, email from delivery.contacts where organization_id = ${org}`,
  );
}

export interface Engines {
  /** Kills engine process k with SIGKILL and starts it again under the same name. */
  restart(k: number): Promise<void>;
  stop(): Promise<void>;
  /** CPU seconds the running engine processes have used so far (a restarted one starts from 0). */
  cpuSeconds(): number;
}

/** The engine processes (engine-process.ts), each answering `ready` before this returns. */
export async function startEngines(keys: BenchKeys, journalDir: string): Promise<Engines> {
  const script = fileURLToPath(new URL('./engine-process.ts', import.meta.url));
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ENGINE_JOURNAL_DIR: journalDir,
    DELIVERY_ENCRYPTION_KEY: keys.encryptionKey.toString('base64'),
    TRACKING_SECRET: keys.trackingSecret,
    PUBLIC_BASE_URL,
    // The engines connect to the sink on loopback, as the sender's validation allowed.
    OUTBOUND_ALLOWED_HOSTS: EMBEDDED_OUTBOUND_ALLOWED,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  const start = (k: number) =>
    new Promise<ChildProcess>((resolve, reject) => {
      // BENCH_ENGINE_PROFILE=<dir> writes a CPU profile of each engine process there.
      const profile = process.env.BENCH_ENGINE_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_ENGINE_PROFILE}`]
        : [];
      const child = spawn(process.execPath, [...profile, ...TYPESCRIPT_NODE_ARGS, script], {
        env: { ...env, ENGINE_OWNER: `bench-engine-${k}` },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.once('error', reject);
      child.stdout!.once('data', () => resolve(child));
    });
  const children = await Promise.all(Array.from({ length: processes }, (_, k) => start(k)));
  return {
    async restart(k) {
      children[k]!.kill('SIGKILL');
      await new Promise((r) => children[k]!.once('exit', r));
      children[k] = await start(k);
    },
    cpuSeconds: () => children.reduce((sum, child) => sum + processCpuSeconds(child.pid!), 0),
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    },
  };
}

/** utime + stime of a process and its threads (Linux /proc; 0 elsewhere). */
function processCpuSeconds(pid: number): number {
  try {
    // Fields after the command name, which sits in parentheses and may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
// USER_HZ: 100 on Linux's supported architectures (`getconf CLK_TCK`).
const CLOCK_TICKS = 100;

/** One campaign send request per contact, in transactions of 5,000. */
export async function enqueueAudience({ handle, org, templateId, audience }: BenchRun) {
  const chunk = 5_000;
  for (let i = 0; i < audience.length; i += chunk) {
    const slice = audience.slice(i, i + chunk);
    await handle.db.transaction((tx) =>
      enqueueMessages(
        tx,
        org,
        slice.map((c) => ({
          channel: 'email' as const,
          templateId,
          contactId: c.id,
          address: c.email,
          context: {},
          idempotencyKey: `weekly:${c.id}`,
          source: { kind: 'campaign' as const, id: 'bench', stepId: null },
        })),
        'bench',
      ),
    );
  }
}

/** Waits until no message is queued or sending, killing engines at even points of progress. */
async function untilSettled(handle: DatabaseHandle, org: string, options: EngineRunOptions, engines: Engines) {
  // Polled while the engines work: both lookups ride the partial indexes on queued and sending
  // messages, so watching costs the database next to nothing.
  const pending = async () =>
    (
      await handle.rows<{ busy: boolean }>(sql`
        select exists (select 1 from delivery.messages where status = 'queued' and organization_id = ${org})
            or exists (select 1 from delivery.messages where status = 'sending' and organization_id = ${org}) as busy`)
    )[0]!.busy;
  const settled = async () => options.count - (await open());
  const open = async () =>
    (
      await handle.rows<{ n: number }>(sql`
        select (select count(*) from delivery.messages where status = 'queued' and organization_id = ${org})
             + (select count(*) from delivery.messages where status = 'sending' and organization_id = ${org}) as n`)
    )[0]!.n;
  // Each kill hits a different engine process.
  const killAt = Array.from({ length: options.kills }, (_, k) =>
    Math.floor(((k + 1) * options.count) / (options.kills + 1)),
  );
  let killed = 0;
  while (await pending()) {
    if (killed < killAt.length && (await settled()) >= killAt[killed]!) {
      await engines.restart(killed % processes);
      killed++;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reports any message not sent, then removes the bench organization's rows. */
export async function reportAndRemove(handle: DatabaseHandle, org: string) {
  const failed = await handle.rows<{ status: string; n: number }>(
    sql`select status, count(*)::int as n from delivery.messages where organization_id = ${org} group by status`,
  );
  if (failed.some((f) => f.status !== 'sent')) console.error('[bench send] statuses:', JSON.stringify(failed));
  for (const table of ['messages', 'outbox', 'contacts', 'templates', 'providers', 'sending_domains', 'dkim_keys'])
    await handle.rows(sql`delete from ${sql.raw(`delivery.${table}`)} where organization_id = ${org}`);
}
