import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from '../src/compose.ts';

const file = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('the checked-in schema', () => {
  it('composes, and matches what the subgraphs print now (run `pnpm schema` when it does not)', () => {
    const { subgraphs, supergraph } = composeSupergraph();
    expect(file('supergraph.graphql')).toBe(`${supergraph.trim()}\n`);
    for (const s of subgraphs) {
      expect(file(`subgraphs/${s.name}.graphql`), `${s.name}.graphql is stale`).toBe(`${s.sdl.trim()}\n`);
    }
    expect(supergraph).toContain('join__graph(name: "identity", url: "http://127.0.0.1:4001/graphql")');
  });
});
