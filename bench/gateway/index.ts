// The gateway's cost per request, for two queries, each against the same query sent straight to
// the subgraph that serves it (its own HTTP route, with a signed context: the baseline):
// - `me`: identity, one indexed read;
// - `contacts(first: 50)` with custom fields, tags and do-not-contact: CRM, over 200 seeded contacts.
// Through the gateway a request also pays for authentication, its budget, the query limits, the
// query plan and the signed context; the subgraph runs in-process. Baseline and gateway alternate
// in rounds, so a machine whose load drifts treats both alike. Besides req/s and latency, each
// reports this process's CPU time per request (the load comes from a child process), the figure
// that other work on a shared machine disturbs least.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '@mauntic/embedded';
import type { RequestContext } from '@mauntic/kernel';
import {
  createLogger,
  INTERNAL_CONTEXT_HEADER,
  loadSecrets,
  signInternalContext,
  startHttpServer,
} from '@mauntic/platform';
import { type LoadResult, runLoad } from '../lib/load.ts';
import { percentile, report, small } from '../lib/report.ts';

const rounds = small ? 2 : 5;
const roundMs = small ? 750 : 2_000;
const connections = 32;
const CONTACTS = 200;
const dataDir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
const app = await startEmbedded({
  PORT: '0',
  LOG_LEVEL: 'silent',
  DATA_DIR: dataDir,
  // Real Postgres when the services are up, so PGlite's one-query-at-a-time is not what we time.
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});

const post = async (
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const result = (await response.json()) as { data?: any; errors?: unknown };
  if (result.errors || !result.data) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(result)}`);
  return result.data;
};

const { signUp: session } = await post(
  app.url,
  `mutation($input: SignUpInput!) { signUp(input: $input) { ... on Session { accessToken user { id } organization { id } } } }`,
  {
    input: {
      email: `bench.${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'Bench',
      organizationName: 'Bench',
    },
  },
  {},
);
const bearer = { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` };
await seedContacts();
await settle();

/** Contacts with two custom fields and three tags each; every fourth may not be emailed. */
async function seedContacts() {
  for (const input of [
    { entity: 'CONTACT', key: 'plan', label: 'Plan', type: 'SELECT', choices: ['free', 'pro', 'enterprise'] },
    { entity: 'CONTACT', key: 'revenue', label: 'Revenue', type: 'NUMBER', scale: 2 },
  ])
    await post(
      app.url,
      'mutation($input: CreateFieldInput!) { createField(input: $input) { ... on FieldDefinition { key } } }',
      { input },
      bearer,
    );
  const { batchUpsertContacts } = await post(
    app.url,
    'mutation($contacts: [ContactInput!]!) { batchUpsertContacts(input: { contacts: $contacts }) { ... on BatchUpsertContactsResult { results { contact { id } } } } }',
    {
      contacts: Array.from({ length: CONTACTS }, (_, i) => ({
        email: `contact.${i}@example.com`,
        firstName: `First ${i}`,
        lastName: `Last ${i}`,
        fields: { plan: ['free', 'pro', 'enterprise'][i % 3], revenue: i * 10.5 },
        tags: ['bench', `cohort-${i % 4}`, `region-${i % 7}`],
      })),
    },
    bearer,
  );
  const ids: string[] = batchUpsertContacts.results.map((r: { contact: { id: string } }) => r.contact.id);
  for (const contactId of ids.filter((_, i) => i % 4 === 0))
    await post(
      app.url,
      'mutation($input: SetDoNotContactInput!) { setDoNotContact(input: $input) { __typename } }',
      { input: { contactId, channel: 'EMAIL', doNotContact: true, reason: 'MANUAL' } },
      bearer,
    );
}

/** Waits until the events the seeding wrote have all been published and handled, so none of that work is timed. */
async function settle() {
  let published = 1;
  while (published > 0) {
    published = 0;
    for (const context of app.contexts) published += await context.relay.drain();
  }
}

// The subgraphs' own routes, called as the gateway calls them in cluster mode.
const byName = (name: string) => app.contexts.find((c) => c.module.name === name)!.subgraph;
const subgraphs = await startHttpServer(
  {
    service: 'bench',
    logger: createLogger('bench', 'silent'),
    routes: { '/identity': byName('identity').route(), '/crm': byName('crm').route() },
  },
  0,
  '127.0.0.1',
);
// The embedded process keeps its secrets in the data folder: sign as its gateway would.
const { internalKey } = loadSecrets({}, dataDir);
const caller: RequestContext = {
  correlationId: 'bench',
  actor: { type: 'user', id: session.user.id },
  organizationId: session.organization.id,
  role: 'owner',
  scopes: ['*:read', '*:write', '*:admin'],
};
// Signed for each round: a signed context expires after a minute.
const signed = () => ({
  'content-type': 'application/json',
  [INTERNAL_CONTEXT_HEADER]: signInternalContext(caller, internalKey),
});

interface Case {
  name: string;
  query: string;
  subgraph: string;
}

const CASES: Case[] = [
  { name: 'me', subgraph: 'identity', query: '{ me { actorType role user { id email } organization { id name } } }' },
  {
    name: 'contacts',
    subgraph: 'crm',
    query:
      '{ contacts(first: 50) { edges { node { id email firstName lastName fields tags doNotContact { channel reason } } } } }',
  },
];

type Totals = Omit<LoadResult, 'latenciesMs'> & { latenciesMs: number[] };
const none = (): Totals => ({ requests: 0, errors: 0, seconds: 0, cpuMs: 0, latenciesMs: [] });
const add = (into: Totals, r: LoadResult) => {
  into.requests += r.requests;
  into.errors += r.errors;
  into.seconds += r.seconds;
  into.cpuMs += r.cpuMs;
  for (const ms of r.latenciesMs) into.latenciesMs.push(ms);
};

let errors = 0;
for (const c of CASES) {
  const body = JSON.stringify({ query: c.query });
  const direct = `${subgraphs.url}/${c.subgraph}`;
  await post(direct, c.query, {}, signed()); // throws unless the baseline answers
  const load = (url: string, headers: Record<string, string>, durationMs: number) =>
    runLoad({ url, body, headers, connections, durationMs });
  await load(direct, signed(), 300); // warm-up
  await load(app.url, bearer, 300);
  const baseline = none();
  const gateway = none();
  for (let round = 0; round < rounds; round++) {
    // Each goes first in every other round.
    const order = round % 2 ? ['gateway', 'direct'] : ['direct', 'gateway'];
    for (const which of order)
      if (which === 'direct') add(baseline, await load(direct, signed(), roundMs));
      else add(gateway, await load(app.url, bearer, roundMs));
  }
  for (const t of [baseline, gateway]) t.latenciesMs.sort((a, b) => a - b);
  const rps = (t: Totals) => t.requests / t.seconds;
  const cpuMicros = (t: Totals) => (1000 * t.cpuMs) / t.requests;
  report('gateway', `${c.name}_rps_through_gateway`, rps(gateway), 'req/s', rps(baseline));
  for (const p of [50, 99])
    report(
      'gateway',
      `${c.name}_p${p}_through_gateway`,
      percentile(gateway.latenciesMs, p),
      'ms',
      percentile(baseline.latenciesMs, p),
    );
  report('gateway', `${c.name}_cpu_per_request_through_gateway`, cpuMicros(gateway), 'µs', cpuMicros(baseline));
  errors += gateway.errors + baseline.errors;
}
await subgraphs.close();
await app.stop();

report('gateway', 'errors', errors, 'count');
if (errors > 0) process.exit(1);
