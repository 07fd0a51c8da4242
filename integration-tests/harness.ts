// Runs the platform as a client meets it: embedded (one process, PGlite, local bus and queue)
// or cluster (each deployable its own process, on real Postgres, Kafka and Redis).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbedded } from '@mauntic/embedded';
import { ownTestDatabase, TYPESCRIPT_NODE_ARGS, testServices } from '@mauntic/platform/testing';
import postgres from 'postgres';

export interface Platform {
  mode: 'embedded' | 'cluster';
  /** The gateway's GraphQL endpoint. */
  url: string;
  /** Where recipients' mail clients reach delivery's public routes (/t/..., and /outbox when embedded). */
  publicUrl: string;
  /** Cluster only: the identity subgraph's own endpoint, to prove it refuses unsigned calls. */
  identityUrl?: string;
  /** Cluster only: sends SIGTERM to the identity process and resolves with its exit code. */
  terminateIdentity?: () => Promise<number | null>;
  /** Cluster only: each deployable's process by name (gateway, identity, ..., delivery-engine), to signal. */
  processes?: Record<string, StartedProcess>;
  /** Cluster only: the platform's topic and consumer-group prefix; each process's Kafka client id is `<prefix>.<name>`. */
  kafkaPrefix?: string;
  stop(): Promise<void>;
}

export type StartedProcess = ReturnType<typeof startProcess>;

export type PlatformFactory = (env?: Record<string, string>) => Promise<Platform>;

const root = fileURLToPath(new URL('..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const startEmbeddedPlatform: PlatformFactory = async (env = {}) => {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'mauntic-embedded-'));
  // A fixed port rather than 0: the public base URL written into tracking links names the port.
  const port = env.PORT ?? String(await freePort());
  const app = await startEmbedded({ LOG_LEVEL: 'silent', ...env, PORT: port, DATA_DIR: dataDir });
  return { mode: 'embedded', url: app.url, publicUrl: app.http.url, stop: app.stop };
};

/**
 * Waits for a process's readiness. 150 s: a cluster platform starts about ten processes, each
 * compiling its TypeScript, and with other suites doing the same on 2 cores one took over 60 s.
 */
export async function waitReady(url: string, child: ChildProcess, output: () => string, timeoutMs = 150_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`process exited (${child.exitCode}) before it was ready:\n${output()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${output()}`);
}

/** Runs a workspace TypeScript entry (with tsx) or, given `nodeArgs`, whatever plain node runs. */
export function startProcess(
  entry: string,
  env: Record<string, string>,
  options: { cwd?: string; nodeArgs?: readonly string[] } = {},
) {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? TYPESCRIPT_NODE_ARGS), entry], {
    cwd: options.cwd ?? root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const terminate = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  return { child, output: () => output, stop: async () => void (await terminate()), terminate };
}

export interface ClusterOptions {
  /**
   * Also run a delivery engine. Off unless a suite sends: engines share the test database (and
   * Kafka and Redis) with every other cluster platform of the run and claim any organization's
   * messages, so an engine of another platform would send them with its own keys and public URL.
   * Keep to one platform with an engine per test run.
   */
  deliveryEngine?: boolean;
  /**
   * Also run a journey executor. Off unless a suite walks journeys: executors share the test
   * database and Kafka with every other cluster platform of the run and walk any organization's
   * runs. Keep to one platform with an executor per test run.
   */
  journeyExecutor?: boolean;
  /** Also run a campaign sender. Off unless a suite sends campaigns, for the same reason. */
  campaignSender?: boolean;
  /** Also run a webhook dispatcher. Off unless a suite sends webhooks. */
  webhookDispatcher?: boolean;
}

export const startClusterPlatform = async (
  env: Record<string, string> = {},
  options: ClusterOptions = {},
): Promise<Platform> => {
  const secrets = {
    INTERNAL_CONTEXT_SECRET: randomBytes(32).toString('base64url'),
    AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
  };
  const deliverySecrets = {
    DELIVERY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    TRACKING_SECRET: randomBytes(32).toString('base64url'),
  };
  const [identityPort, crmPort, deliveryPort, journeyPort, enginePort, executorPort, gatewayPort, integrationsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // Recipients reach tracking and unsubscribe through the gateway, which passes them to delivery.
  const publicUrl = `http://127.0.0.1:${gatewayPort}`;
  // Each platform is a deployment of its own: its own database, topics, consumer groups and job
  // keys. Platforms of suites running side by side would otherwise be replicas of one another,
  // with different secrets: one's engine claiming the other's messages, one's consumers taking
  // the other's partitions (and stalling them while it stops).
  const database = await ownTestDatabase();
  const instance = `${testServices.kafkaTopicPrefix}-${randomBytes(4).toString('hex')}`;
  await createMigrationsSchema(database.url);
  const services = {
    ...secrets,
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    KAFKA_BROKERS: testServices.kafkaBrokers.join(','),
    REDIS_URL: testServices.redisUrl,
    KAFKA_TOPIC_PREFIX: instance,
    REDIS_KEY_PREFIX: instance,
    ...env,
  };
  // Each process its own Kafka client id, so a test can tell its consumer-group memberships apart.
  const start = (entry: string, env: Record<string, string>) =>
    startProcess(entry, { KAFKA_CLIENT_ID: `${instance}.${basename(dirname(dirname(entry)))}`, ...env });
  const identity = start('subgraphs/identity/src/index.ts', { ...services, PORT: String(identityPort) });
  const crm = start('subgraphs/crm/src/index.ts', { ...services, PORT: String(crmPort) });
  const delivery = start('subgraphs/delivery/src/index.ts', {
    ...services,
    ...deliverySecrets,
    PORT: String(deliveryPort),
    PUBLIC_BASE_URL: publicUrl,
  });
  const journey = start('subgraphs/journey/src/index.ts', { ...services, PORT: String(journeyPort) });
  const integrationsSecrets = { INTEGRATIONS_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  const integrations = start('subgraphs/integrations/src/index.ts', {
    ...services,
    ...integrationsSecrets,
    PORT: String(integrationsPort),
  });
  const campaignPort = await freePort();
  const campaign = start('subgraphs/campaign/src/index.ts', { ...services, PORT: String(campaignPort) });
  const processes = [identity, crm, delivery, journey, integrations, campaign];
  const named: Record<string, StartedProcess> = { identity, crm, delivery, journey, integrations, campaign };
  const keep = (name: string, started: StartedProcess) => {
    processes.push(started);
    named[name] = started;
  };
  const gateway = start('gateway/src/index.ts', {
    ...secrets,
    PORT: String(gatewayPort),
    HOST: '127.0.0.1',
    IDENTITY_URL: `http://127.0.0.1:${identityPort}/graphql`,
    IDENTITY_INTERNAL_URL: `http://127.0.0.1:${identityPort}`,
    CRM_URL: `http://127.0.0.1:${crmPort}/graphql`,
    DELIVERY_URL: `http://127.0.0.1:${deliveryPort}/graphql`,
    JOURNEY_URL: `http://127.0.0.1:${journeyPort}/graphql`,
    INTEGRATIONS_URL: `http://127.0.0.1:${integrationsPort}/graphql`,
    CAMPAIGN_URL: `http://127.0.0.1:${campaignPort}/graphql`,
    // Subscriptions read the events from Kafka.
    KAFKA_BROKERS: services.KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX: services.KAFKA_TOPIC_PREFIX,
    ...env,
  });
  try {
    // The engine works on delivery's tables: it starts once delivery has migrated them.
    await waitReady(`http://127.0.0.1:${deliveryPort}/readyz`, delivery.child, delivery.output);
    const engine = options.deliveryEngine
      ? start('workers/delivery-engine/src/index.ts', {
          ...services,
          ...deliverySecrets,
          PORT: String(enginePort),
          PUBLIC_BASE_URL: publicUrl,
          ENGINE_OWNER: `itest-engine-${randomBytes(4).toString('hex')}`,
          ENGINE_JOURNAL_DIR: mkdtempSync(join(tmpdir(), 'mauntic-engine-journal-')),
        })
      : undefined;
    if (engine) keep('delivery-engine', engine);
    // The executor works on the journey tables: it starts once the journey subgraph migrated them.
    await waitReady(`http://127.0.0.1:${journeyPort}/readyz`, journey.child, journey.output);
    const executor = options.journeyExecutor
      ? start('workers/journey-executor/src/index.ts', {
          ...services,
          PORT: String(executorPort),
          EXECUTOR_OWNER: `itest-executor-${randomBytes(4).toString('hex')}`,
        })
      : undefined;
    if (executor) keep('journey-executor', executor);
    // The sender works on the campaign tables: it starts once the campaign subgraph migrated them.
    await waitReady(`http://127.0.0.1:${campaignPort}/readyz`, campaign.child, campaign.output);
    const senderPort = await freePort();
    const sender = options.campaignSender
      ? start('workers/campaign-sender/src/index.ts', { ...services, PORT: String(senderPort) })
      : undefined;
    if (sender) keep('campaign-sender', sender);
    await waitReady(`http://127.0.0.1:${identityPort}/readyz`, identity.child, identity.output);
    await waitReady(`http://127.0.0.1:${crmPort}/readyz`, crm.child, crm.output);
    await waitReady(`http://127.0.0.1:${integrationsPort}/readyz`, integrations.child, integrations.output);
    // The dispatcher works on the integrations tables: it starts once the subgraph migrated them.
    const dispatcherPort = await freePort();
    const dispatcher = options.webhookDispatcher
      ? start('workers/webhook-dispatcher/src/index.ts', {
          ...services,
          ...integrationsSecrets,
          PORT: String(dispatcherPort),
        })
      : undefined;
    if (dispatcher) {
      keep('webhook-dispatcher', dispatcher);
      await waitReady(`http://127.0.0.1:${dispatcherPort}/readyz`, dispatcher.child, dispatcher.output);
    }
    if (executor) await waitReady(`http://127.0.0.1:${executorPort}/readyz`, executor.child, executor.output);
    if (engine) await waitReady(`http://127.0.0.1:${enginePort}/readyz`, engine.child, engine.output);
    if (sender) await waitReady(`http://127.0.0.1:${senderPort}/readyz`, sender.child, sender.output);
    await waitReady(`http://127.0.0.1:${gatewayPort}/readyz`, gateway.child, gateway.output);
  } catch (error) {
    await Promise.all([gateway, ...processes].map((p) => p.stop()));
    await database.drop();
    throw error;
  }
  return {
    mode: 'cluster',
    url: `http://127.0.0.1:${gatewayPort}/graphql`,
    publicUrl,
    identityUrl: `http://127.0.0.1:${identityPort}/graphql`,
    terminateIdentity: identity.terminate,
    processes: { ...named, gateway },
    kafkaPrefix: instance,
    stop: async () => {
      await gateway.stop();
      await Promise.all(processes.map((p) => p.stop()));
      await database.drop();
    },
  };
};

/**
 * Every subgraph migrates its own schema when it starts, all at once here; the bookkeeping schema
 * they share is made first, so their `create schema if not exists` calls do not race.
 */
async function createMigrationsSchema(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`create schema if not exists mauntic_migrations`;
  } finally {
    await sql.end();
  }
}

export interface GraphQLResult<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data?: T;
  errors?: { message: string; extensions?: Record<string, any> }[];
}

/** A GraphQL call as any client would make it. */
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResult<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: GraphQLResult['errors'] };
  return { status: response.status, headers: response.headers, ...body };
}

export const uniqueEmail = (label = 'user') => `${label}.${randomBytes(6).toString('hex')}@example.com`;
export const STRONG_PASSWORD = 'correct horse battery staple';
