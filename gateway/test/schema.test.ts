import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from '../src/compose';
import { SUPERGRAPH_PATH } from '../src/supergraph';

describe('the checked-in schema', () => {
  it('composes, and matches what the subgraphs print now (run `pnpm schema` when it does not)', () => {
    const { subgraphs, supergraph } = composeSupergraph();
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8')).toBe(`${supergraph.trim()}\n`);
    for (const s of subgraphs) {
      const file = new URL(`../../schema/subgraphs/${s.name}.graphql`, import.meta.url);
      expect(readFileSync(file, 'utf8'), `${s.name}.graphql is stale`).toBe(`${s.sdl.trim()}\n`);
    }
    expect(supergraph).toContain('join__graph(name: "identity"');
  });
});
