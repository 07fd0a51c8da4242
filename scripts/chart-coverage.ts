// Checks that charts/mauntic covers the workspace: every deployable (a package under gateway/,
// subgraphs/ or workers/ with a `start` script) has a component in the chart, every environment
// variable it reads is set in its rendered container (so it is settable from values), and every
// context with a `migrate` script gets a migration Job. Run by scripts/chart-check.sh:
//   tsx --conditions=source scripts/chart-coverage.ts <helm binary>
// The variables a deployable reads are recorded, not listed by hand: its src/environment.ts
// parsers are called with an environment that notes every name asked for.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const chart = join(root, 'charts/mauntic');
const helm = process.argv[2] ?? 'helm';

type Deployable = { name: string; dir: string; migrates: boolean };

function deployables(): Deployable[] {
  const dirs = [
    'gateway',
    ...['subgraphs', 'workers'].flatMap((d) => readdirSync(join(root, d)).map((x) => `${d}/${x}`)),
  ];
  return dirs
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => pkg.scripts?.start)
    .map(({ dir, pkg }) => ({ name: basename(dir), dir, migrates: Boolean(pkg.scripts?.migrate) }));
}

/** Every variable the deployable's environment parsers look at. */
async function variablesRead(dir: string): Promise<Set<string>> {
  const read = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get: (_, key) => {
      if (typeof key === 'string') read.add(key);
      return undefined;
    },
  });
  const module = await import(pathToFileURL(join(root, dir, 'src/environment.ts')).href);
  for (const [name, fn] of Object.entries(module)) {
    if (typeof fn !== 'function') continue;
    const call = () => {
      if (/^parse\w*Environment$/.test(name)) return fn(env);
      // The gateway's <SUBGRAPH>_URL variables, one per subgraph of the supergraph it serves.
      if (name === 'subgraphUrls') {
        const sdl = readFileSync(join(root, 'schema/supergraph.graphql'), 'utf8');
        const subgraphs = [...sdl.matchAll(/@join__graph\(name: "([^"]+)", url: "([^"]+)"\)/g)].map((m) => ({
          name: m[1],
          url: m[2],
        }));
        return fn({ sdl, subgraphs }, env);
      }
    };
    try {
      call();
    } catch {
      // Cluster-mode parsers refuse the empty environment; what they read is already noted.
    }
  }
  // Read by zod's machinery, not by the deployable.
  for (const key of [...read]) if (!/^[A-Z][A-Z0-9_]*$/.test(key)) read.delete(key);
  return read;
}

function render(template: string): string {
  try {
    return execFileSync(
      helm,
      ['template', 'r', chart, '-f', join(chart, 'values-production.yaml'), '--show-only', template],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch {
    return '';
  }
}

const problems: string[] = [];
const values = readFileSync(join(chart, 'values.yaml'), 'utf8');
const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8'));
let passed = 0;
for (const d of deployables()) {
  const before = problems.length;
  const howTo = `copy a component's folder (templates/journey, or templates/delivery-engine for a StatefulSet) to templates/${d.name}, rename it inside, list what it needs in _${d.name}.tpl, and add components.${d.name} to values.yaml and to values.schema.json's components`;
  if (!existsSync(join(chart, 'templates', d.name, 'workload.yaml'))) {
    problems.push(`${d.dir}: no chart component (templates/${d.name}/workload.yaml); ${howTo}`);
    continue;
  }
  if (!new RegExp(`^  ${d.name}:$`, 'm').test(values) || !schema.properties.components.properties[d.name]) {
    problems.push(`${d.dir}: components.${d.name} missing from values.yaml or values.schema.json; ${howTo}`);
    continue;
  }
  const workload = render(`templates/${d.name}/workload.yaml`);
  const set = new Set([...workload.matchAll(/^\s*- name: ([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1]!));
  const missing = [...(await variablesRead(d.dir))].filter((v) => !set.has(v)).sort();
  if (!workload) problems.push(`${d.dir}: templates/${d.name}/workload.yaml renders nothing`);
  else if (missing.length)
    problems.push(
      `${d.dir} reads ${missing.join(', ')}, which its container does not set: add them to components.${d.name}.env in values.yaml (with their defaults, documented), or wire them in templates/${d.name}/_${d.name}.tpl`,
    );
  if (d.migrates && !/^kind: Job$/m.test(render(`templates/${d.name}/migration-job.yaml`)))
    problems.push(
      `${d.dir} has a migrate script but no migration Job: add templates/${d.name}/migration-job.yaml (as templates/journey has)`,
    );
  if (problems.length === before) passed++;
}
for (const p of problems) console.error(`chart coverage: ${p}`);
console.log(`chart coverage: ${passed} passed, ${deployables().length - passed} failed`);
process.exit(problems.length ? 1 : 0);
