import { type OperationDefinitionNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checkLimits, measureOperation } from './limits.ts';

const measure = (q: string, vars: Record<string, unknown> = {}) => {
  const doc = parse(q);
  return measureOperation(
    doc,
    doc.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode,
    vars,
  );
};

describe('query limits', () => {
  it('measures depth through fragments and inline fragments', () => {
    expect(measure('{ a }').depth).toBe(1);
    expect(measure('{ a { b { c } } }').depth).toBe(3);
    expect(measure('query { a { ...F } } fragment F on A { b { ... on B { c { d } } } }').depth).toBe(4);
  });

  it('multiplies the cost beneath a paged field by its page size, from literals or variables', () => {
    expect(measure('{ a b }').cost).toBe(2);
    expect(measure('{ list(first: 10) { id name } }').cost).toBe(1 + 10 * 2);
    expect(measure('query($n: Int) { list(first: $n) { id } }', { n: 50 }).cost).toBe(51);
    expect(measure('{ list { id } }').cost).toBe(1 + 1);
  });

  it('throws typed errors over the limits', () => {
    const doc = parse('{ a { b { c } } }');
    const op = doc.definitions[0] as OperationDefinitionNode;
    expect(() => checkLimits(doc, op, {}, { maxDepth: 2, maxCost: 100 })).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'QUERY_TOO_DEEP' }) }),
    );
    expect(() => checkLimits(doc, op, {}, { maxDepth: 5, maxCost: 2 })).toThrow(/cost 3 exceeds/);
  });
});
