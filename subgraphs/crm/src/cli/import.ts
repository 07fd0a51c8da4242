// `pnpm --filter @mauntic/crm import-contacts <file.csv> --map email=email,first=firstName,plan=fields.plan
//   [--tag x]... [--url http://localhost:4000/graphql] [--token <bearer>]`
// Starts a contact import through the gateway and draws its progress on stderr until it ends;
// exits non-zero if the import failed or rejected the request.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    map: { type: 'string' },
    tag: { type: 'string', multiple: true },
    url: { type: 'string', default: process.env.MAUNTIC_URL ?? 'http://localhost:4000/graphql' },
    token: { type: 'string', default: process.env.MAUNTIC_TOKEN },
  },
});

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: import <file.csv> --map col=field,col=fields.key [--tag x] [--url URL] [--token TOKEN]\n`,
  );
  process.exit(2);
}

const file = positionals[0] ?? usage('no CSV file given');
if (!values.map) usage('--map is required');
const mapping = Object.fromEntries(
  values.map.split(',').map((pair) => {
    const [column, target] = pair.split('=');
    if (!column || !target) usage(`--map: "${pair}" is not column=field`);
    return [column.trim(), target.trim()];
  }),
);

async function call<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(values.url!, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(values.token ? { authorization: `Bearer ${values.token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  if (!body.data) throw new Error(`the gateway answered ${response.status} without data`);
  return body.data;
}

const IMPORT_FIELDS = 'id status percent rowsDone rowsFailed error';
type ImportState = {
  id: string;
  status: string;
  percent: number;
  rowsDone: number;
  rowsFailed: number;
  error: string | null;
};

const started = await call<{
  startContactImport: ImportState & { __typename: string; message?: string };
}>(
  `mutation ($input: StartContactImportInput!) {
    startContactImport(input: $input) {
      __typename
      ... on ContactImport { ${IMPORT_FIELDS} }
      ... on Error { message }
    }
  }`,
  {
    input: {
      csv: await readFile(resolve(process.env.INIT_CWD ?? process.cwd(), file), 'utf8'),
      mapping,
      tags: values.tag ?? [],
    },
  },
);
if (started.startContactImport.__typename !== 'ContactImport') {
  process.stderr.write(`import refused: ${started.startContactImport.message}\n`);
  process.exit(1);
}

const WIDTH = 30;
const draw = (s: ImportState) => {
  const filled = Math.round((s.percent / 100) * WIDTH);
  process.stderr.write(
    `\r[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${s.percent.toFixed(1).padStart(5)}%  ` +
      `${s.rowsDone} rows done, ${s.rowsFailed} failed  ${s.status.toLowerCase()}   `,
  );
};

let state: ImportState = started.startContactImport;
draw(state);
while (state.status === 'QUEUED' || state.status === 'RUNNING') {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const polled = await call<{ contactImport: ImportState | null }>(
    `query ($id: ID!) { contactImport(id: $id) { ${IMPORT_FIELDS} } }`,
    { id: state.id },
  );
  if (!polled.contactImport) throw new Error(`import ${state.id} is gone`);
  state = polled.contactImport;
  draw(state);
}
process.stderr.write('\n');
if (state.status === 'FAILED') {
  process.stderr.write(`import failed: ${state.error}\n`);
  process.exit(1);
}
if (state.rowsFailed > 0)
  process.stderr.write(
    `${state.rowsFailed} rows were rejected; see contactImport(id: "${state.id}") { errorReportCsv }\n`,
  );
process.stdout.write(`${JSON.stringify(state)}\n`);
