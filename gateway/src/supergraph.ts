import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SUPERGRAPH_PATH = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));
export const readSupergraph = () => readFileSync(SUPERGRAPH_PATH, 'utf8');
