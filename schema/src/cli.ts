// `pnpm schema` (at build time, never at run time) writes schema/subgraphs/<name>.graphql and schema/supergraph.graphql;
// `pnpm schema:check` fails when either is stale or the graph does not compose.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeSupergraph } from './compose.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

const { subgraphs, supergraph } = composeSupergraph();
const files = [
  ...subgraphs.map((s) => ({ path: join(root, 'subgraphs', `${s.name}.graphql`), content: `${s.sdl.trim()}\n` })),
  { path: join(root, 'supergraph.graphql'), content: `${supergraph.trim()}\n` },
];

const stale = files.filter((f) => !existsSync(f.path) || readFileSync(f.path, 'utf8') !== f.content);
if (check) {
  if (stale.length) {
    console.error(`stale schema files (run \`pnpm schema\`):\n${stale.map((f) => `  ${f.path}`).join('\n')}`);
    process.exit(1);
  }
  console.log(`schema: ${files.length} files current; supergraph composes`);
} else {
  mkdirSync(join(root, 'subgraphs'), { recursive: true });
  for (const f of stale) writeFileSync(f.path, f.content);
  console.log(`schema: wrote ${stale.length} of ${files.length} files`);
}
