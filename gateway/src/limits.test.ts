import { buildSchema, type OperationDefinitionNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { costModelOf, FIELD_COSTS, REGEXP_FILTER_COST } from './cost-model.ts';
import { checkDocument, checkIntrospection, checkLimits, MAX_REPEATED_FIELD, measureOperation } from './limits.ts';

const operationOf = (doc: ReturnType<typeof parse>) =>
  doc.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode;

const measure = (q: string, vars: Record<string, unknown> = {}) => {
  const doc = parse(q);
  return measureOperation(doc, operationOf(doc), vars);
};

const schema = buildSchema(`
  scalar JSON
  type Query {
    contacts(filter: JSON, first: Int, after: String): ContactConnection!
    timeline(first: Int = 5): TimelinePage!
    exportContacts(filter: JSON): String!
    contact(id: ID!): Contact
  }
  type Mutation { touch: Int }
  type ContactConnection { edges: [ContactEdge!]! pageInfo: PageInfo! totalCount: Int! }
  type ContactEdge { cursor: String! node: Contact! }
  type Contact { id: ID! email: String! }
  type PageInfo { hasNextPage: Boolean! }
  type TimelinePage { items: [Item!]! hasNextPage: Boolean! }
  type Item { id: ID! }
`);
const model = costModelOf(schema);

const measureWithSchema = (q: string, vars: Record<string, unknown> = {}) => {
  const doc = parse(q);
  return measureOperation(doc, operationOf(doc), vars, model);
};

const errorCode = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { extensions?: { code?: string } }).extensions?.code;
  }
  return undefined;
};

/** A chain of `levels` fragments, each spreading the next one twice: 2^levels fields when expanded. */
function doublingChain(levels: number): string {
  let q = 'query { contact(id: "1") { ...F0 } }\n';
  for (let i = 0; i < levels; i++) q += `fragment F${i} on Contact { id ...F${i + 1} ...F${i + 1} }\n`;
  return `${q}fragment F${levels} on Contact { email }`;
}

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

  it('measures a fragment once however often it is spread: a 30-level doubling chain in well under 100 ms', () => {
    const doc = parse(doublingChain(30));
    const started = performance.now();
    const { cost, depth } = measureOperation(doc, operationOf(doc), {});
    expect(performance.now() - started).toBeLessThan(50);
    // contact, then 2^i ids at level i and 2^30 emails: what executing it would resolve.
    expect(cost).toBe(1 + (2 ** 30 - 1) + 2 ** 30);
    expect(depth).toBe(2);
    expect(errorCode(() => checkLimits(doc, operationOf(doc), {}, { maxDepth: 12, maxCost: 20_000 }))).toBe(
      'QUERY_TOO_COSTLY',
    );
  });

  it('measures a query again when its variables change what it costs', () => {
    const q = 'query($n: Int) { list(first: $n) { id } }';
    const doc = parse(q);
    expect(measureOperation(doc, operationOf(doc), { n: 5 }).cost).toBe(6);
    expect(measureOperation(doc, operationOf(doc), { n: 90 }).cost).toBe(91);
    // A variable's default applies when the request leaves it out.
    expect(measure('query($n: Int = 7) { list(first: $n) { id } }').cost).toBe(8);
  });

  it('counts and limits the fields at the root, through fragments', () => {
    expect(measure('{ a b ...F } fragment F on Query { c d }').rootFields).toBe(4);
    const doc = parse(`mutation { ${Array.from({ length: 101 }, (_, i) => `m${i}: touch`).join(' ')} }`);
    const limits = { maxDepth: 12, maxCost: 20_000, maxRootFields: 100 };
    expect(errorCode(() => checkLimits(doc, operationOf(doc), {}, limits))).toBe('QUERY_TOO_MANY_ROOT_FIELDS');
    const hundred = parse(`mutation { ${Array.from({ length: 100 }, (_, i) => `m${i}: touch`).join(' ')} }`);
    expect(() => checkLimits(hundred, operationOf(hundred), {}, limits)).not.toThrow();
  });
});

describe('document shape, checked before validation', () => {
  const roomy = { maxAliases: 1_000, maxFragments: 1_000 };
  const refusal = (query: string, limits = roomy) => {
    try {
      checkDocument(parse(query), limits);
    } catch (error) {
      return (error as { extensions: Record<string, unknown> }).extensions;
    }
    return undefined;
  };
  const repeat = (times: number, text: string) => Array.from({ length: times }, () => text).join(' ');

  it('counts aliases everywhere in the document, fragments included', () => {
    const query =
      'query { a: me { b: id } ...F } fragment F on Query { c: me { id } } fragment G on Query { me { id } }';
    expect(refusal(query, { maxAliases: 2, maxFragments: 2 })).toMatchObject({
      code: 'QUERY_TOO_MANY_ALIASES',
      aliases: 3,
      limit: 2,
    });
    expect(refusal(query, { maxAliases: 3, maxFragments: 2 })).toBeUndefined();
  });

  it('refuses too many fragments before measuring anything else', () => {
    expect(refusal(doublingChain(30), { maxAliases: 0, maxFragments: 30 })).toMatchObject({
      code: 'QUERY_TOO_MANY_FRAGMENTS',
      fragments: 31,
    });
  });

  it('refuses one response name repeated too often in a selection set, inline fragments included', () => {
    const inline = (times: number) => `{ me { ${repeat(times, '... on Viewer { user { id } }')} } }`;
    expect(refusal(inline(MAX_REPEATED_FIELD))).toBeUndefined();
    expect(refusal(inline(MAX_REPEATED_FIELD + 1))).toMatchObject({ code: 'QUERY_FIELD_REPEATED', times: 101 });
  });

  it('counts the fields of every fragment a selection set reaches, each fragment once', () => {
    // A chain of 11 fragments with 10 `user` each: validation compares all 110 with one another.
    let chain = '{ me { ...F0 } }';
    for (let i = 0; i < 11; i++)
      chain += ` fragment F${i} on Viewer { ${repeat(10, 'user { id }')} ${i < 10 ? `...F${i + 1}` : ''} }`;
    expect(refusal(chain)).toMatchObject({ code: 'QUERY_FIELD_REPEATED', times: 110 });
    // Fragments spread side by side count the same way.
    let side = `{ me { ${Array.from({ length: 51 }, (_, i) => `...S${i}`).join(' ')} } }`;
    for (let i = 0; i < 51; i++) side += ` fragment S${i} on Viewer { user { id } user { email } }`;
    expect(refusal(side)).toMatchObject({ code: 'QUERY_FIELD_REPEATED', times: 102 });
    // A fragment reached along many paths counts once: the doubling chain repeats `id` 31 times, not 2^30.
    expect(refusal(doublingChain(30))).toBeUndefined();
  });

  it('measures an adversarial document in milliseconds', () => {
    let query = `{ me { ${repeat(50, 'user { id }')} ...F0 } }`;
    for (let i = 0; i < 100; i++)
      query += ` fragment F${i} on Viewer { ${repeat(50, 'user { id }')} ${i < 99 ? `...F${i + 1}` : ''} }`;
    const document = parse(query);
    checkDocument(parse('{ me { user { id } } }'), roomy); // warm up
    const started = performance.now();
    expect(() => checkDocument(document, roomy)).toThrow(/selected 5050 times/);
    // Validating it took about a second (and grows with the fragments' fan-out); now a few
    // milliseconds. The bound leaves room for a machine busy with other work.
    expect(performance.now() - started).toBeLessThan(400);
  });
});

describe('introspection', () => {
  it('counts introspection fields in depth and cost, __schema by the size of its answer', () => {
    const m = measureWithSchema('{ __schema { types { name } } }');
    expect(m.depth).toBe(3);
    expect(m.cost).toBe(FIELD_COSTS['Query.__schema']! + 2);
    expect(m.introspection).toBe(true);
    const aliased = parse(
      `{ ${Array.from({ length: 100 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }`,
    );
    expect(
      errorCode(() => checkLimits(aliased, operationOf(aliased), {}, { maxDepth: 12, maxCost: 20_000 }, model)),
    ).toBe('QUERY_TOO_COSTLY');
  });

  it("lets a type's wrappers (ofType) nest without counting as depth", () => {
    const m = measureWithSchema(
      '{ __type(name: "Query") { fields { type { ofType { ofType { ofType { name } } } } } } }',
    );
    expect(m.depth).toBe(4);
  });

  it('refuses introspection lists nested more than twice', () => {
    const two = parse('{ __type(name: "Query") { fields { type { fields { name } } } } }');
    expect(() => checkLimits(two, operationOf(two), {}, { maxDepth: 12, maxCost: 20_000 }, model)).not.toThrow();
    const three = parse('{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }');
    expect(measureOperation(three, operationOf(three), {}, model).introspectionLists).toBe(3);
    expect(errorCode(() => checkLimits(three, operationOf(three), {}, { maxDepth: 12, maxCost: 20_000 }, model))).toBe(
      'INTROSPECTION_TOO_DEEP',
    );
  });

  it('is refused to anonymous callers unless everyone may introspect; __typename is not introspection', () => {
    const m = measureWithSchema('{ __type(name: "Query") { name } }');
    expect(errorCode(() => checkIntrospection(m, 'authenticated', true))).toBe('INTROSPECTION_DISABLED');
    expect(() => checkIntrospection(m, 'authenticated', false)).not.toThrow();
    expect(() => checkIntrospection(m, 'everyone', true)).not.toThrow();
    expect(errorCode(() => checkIntrospection(m, 'nobody', false))).toBe('INTROSPECTION_DISABLED');
    expect(() => checkIntrospection(measureWithSchema('{ __typename }'), 'nobody', true)).not.toThrow();
  });
});

describe('cost with the schema', () => {
  it('costs a connection given no `first` at its default page: declared in the schema, else 20', () => {
    expect(measureWithSchema('{ contacts { edges { node { id } } } }').cost).toBe(1 + 20 * 3);
    expect(measureWithSchema('{ timeline { items { id } } }').cost).toBe(1 + 5 * 2);
    expect(measureWithSchema('{ timeline(first: 2) { items { id } } }').cost).toBe(1 + 2 * 2);
  });

  it("multiplies a connection's lists by the page, not its totalCount or pageInfo, and costs totalCount as a count", () => {
    const m = measureWithSchema('{ contacts(first: 5) { totalCount pageInfo { hasNextPage } edges { cursor } } }');
    expect(m.cost).toBe(1 + FIELD_COSTS['*.totalCount']! + 2 + 5 * 2);
  });

  it('costs a whole-organization export by what it scans, and each regexp condition of a filter on top', () => {
    expect(measureWithSchema('{ exportContacts }').cost).toBe(FIELD_COSTS['Query.exportContacts']);
    const literal = measureWithSchema(
      '{ exportContacts(filter: { or: [{ field: "email", op: "regexp", value: "a" }, { field: "email", op: notRegexp, value: "b" }] }) }',
    );
    expect(literal.cost).toBe(FIELD_COSTS['Query.exportContacts']! + 2 * REGEXP_FILTER_COST);
    const q = 'query($f: JSON) { contacts(filter: $f, first: 1) { edges { cursor } } }';
    const plain = measureWithSchema(q, { f: { field: 'email', op: 'contains', value: 'a' } }).cost;
    const deep = { and: [{ and: [{ field: 'email', op: 'regexp', value: '(a+)+$' }] }, { op: 'regexp' }] };
    expect(measureWithSchema(q, { f: deep }).cost).toBe(plain + 2 * REGEXP_FILTER_COST);
  });
});
