// The gateway's cost per request: `me` through the gateway (auth, query planning, signed
// context, the identity subgraph in-process) against the same query sent straight to the
// identity subgraph's own HTTP endpoint with a signed context (the baseline), in one run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '@mauntic/embedded';
import {
  createLogger,
  INTERNAL_CONTEXT_HEADER,
  loadSecrets,
  signInternalContext,
  startHttpServer,
} from '@mauntic/platform';
import { runLoad } from '../lib/load.ts';
import { percentile, report, small } from '../lib/report.ts';

const durationMs = small ? 1500 : 10_000;
const connections = 32;
const dataDir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
const app = await startEmbedded({
  PORT: '0',
  LOG_LEVEL: 'silent',
  DATA_DIR: dataDir,
  // Real Postgres when the services are up, so PGlite's one-query-at-a-time is not what we time.
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});

const post = (url: string, body: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(
    (r) => r.json() as Promise<any>,
  );

const signUp = await post(
  app.url,
  JSON.stringify({
    query: `mutation { signUp(input: { email: "bench.${Date.now()}@example.com", password: "correct horse battery", name: "Bench", organizationName: "Bench" }) { ... on Session { accessToken user { id } organization { id } } } }`,
  }),
  {},
);
const session = signUp.data.signUp;
const query = JSON.stringify({ query: '{ me { actorType role user { id email } organization { id name } } }' });

const identity = app.contexts.find((c) => c.module.name === 'identity')!;
const subgraphHttp = await startHttpServer(
  { service: 'identity', logger: createLogger('bench', 'silent'), routes: { '/graphql': identity.subgraph.route() } },
  0,
  '127.0.0.1',
);
// The embedded process keeps its secrets in the data folder: sign as its gateway would.
const { internalKey } = loadSecrets({}, dataDir);
const signedHeaders = async () => ({
  'content-type': 'application/json',
  [INTERNAL_CONTEXT_HEADER]: signInternalContext(
    {
      correlationId: 'bench',
      actor: { type: 'user', id: session.user.id },
      organizationId: session.organization.id,
      role: 'owner',
      scopes: ['*:read', '*:write', '*:admin'],
    },
    internalKey,
  ),
});

const check = await post(`${subgraphHttp.url}/graphql`, query, await signedHeaders());
if (!check.data?.me) throw new Error(`baseline request failed: ${JSON.stringify(check)}`);

const measure = async (url: string, headers: Record<string, string>) => {
  await runLoad({ url, body: query, headers, connections, durationMs: 300 }); // warm-up
  return runLoad({ url, body: query, headers, connections, durationMs });
};

const direct = await measure(`${subgraphHttp.url}/graphql`, await signedHeaders());
const gateway = await measure(app.url, {
  'content-type': 'application/json',
  authorization: `Bearer ${session.accessToken}`,
});
await subgraphHttp.close();
await app.stop();

const rps = (r: { requests: number; seconds: number }) => r.requests / r.seconds;
report('gateway', 'me_rps_through_gateway', rps(gateway), 'req/s', rps(direct));
report(
  'gateway',
  'me_p50_through_gateway',
  percentile(gateway.latenciesMs, 50),
  'ms',
  percentile(direct.latenciesMs, 50),
);
report(
  'gateway',
  'me_p99_through_gateway',
  percentile(gateway.latenciesMs, 99),
  'ms',
  percentile(direct.latenciesMs, 99),
);
report('gateway', 'errors', gateway.errors + direct.errors, 'count');
if (gateway.errors + direct.errors > 0) process.exit(1);
