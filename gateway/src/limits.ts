// Query limits, checked before anything runs.
//
// Before validation (whose cost grows with the square of the fields sharing a response name in a
// selection set, fragments included), the document's shape: how many fragments and aliases it
// holds, and how often one response name repeats in a selection set. Once the operation is
// resolved: its depth, cost and root fields.
// Cost: every field costs 1 (more for the fields in FIELD_COSTS); a field with a `first` (or
// `limit`) argument multiplies what is beneath it by that number, so a page of 100 contacts with
// 10 fields costs about 1,000. Knowing the schema, a connection that is given no `first` counts
// its default page, and only its lists (edges) are multiplied, not its totalCount or pageInfo.
//
// Each fragment is measured once per operation however often it is spread, so measuring is
// linear in the document's size; an operation whose measure depends on no variable is measured
// once for as long as its parsed document is cached.
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  visit,
} from 'graphql';
import { type CostModel, REGEXP_FILTER_COST } from './cost-model.ts';

/** Without a schema, a paged field that is given no size is costed at this page. */
const DEFAULT_LIST_SIZE = 20;
/** How often one response name may appear in one selection set (with its inline fragments and the fragments it reaches). */
export const MAX_REPEATED_FIELD = 100;
/**
 * How deeply a value written in the document (an argument, a variable's default) may nest objects
 * and lists, as JSON variables may (the input guard's MAX_JSON_DEPTH)...
 */
export const MAX_LITERAL_DEPTH = 32;
/**
 * ...and how many lists it may nest: the query planner walks every list of a literal twice
 * (Apollo's collectVariablesInValue), so its time doubles with each list inside a list — 21 of
 * them took 1.5 s, 30 would block the event loop for minutes; with 8, a literal as wide as the
 * token limit allows is planned in under half a second. CRM's filters nest up to 10 levels: deeper
 * values are sent as variables, which the planner does not walk.
 */
export const MAX_LITERAL_LISTS = 8;
/** How deeply introspection may nest its lists of fields, input fields, interfaces and possible types. */
export const MAX_INTROSPECTION_LISTS = 2;

const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);
const INTROSPECTION_LISTS = new Set(['fields', 'inputFields', 'interfaces', 'possibleTypes']);
const SIZE_ARGUMENTS = new Set(['first', 'limit']);
const REGEXP_OPS = new Set(['regexp', 'notRegexp']);

const refused = (message: string, code: string, details: Record<string, unknown>, status = 400) =>
  new GraphQLError(message, { extensions: { code, ...details, http: { status } } });

// ---------------------------------------------------------------------------------------------
// The document's shape, before validation

export interface DocumentLimits {
  maxAliases: number;
  maxFragments: number;
}

/** A selection set's own fields by response name (inline fragments included) and the fragments it spreads. */
interface SetNames {
  counts: Map<string, number>;
  spreads: Set<string>;
  aliases: number;
  /** The selection sets of its fields, to visit in turn. */
  children: SelectionSetNode[];
}

const noNames = (): SetNames => ({ counts: new Map(), spreads: new Set(), aliases: 0, children: [] });

function namesOf(set: SelectionSetNode): SetNames {
  const names = noNames();
  const collect = (inner: SelectionSetNode) => {
    for (const selection of inner.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) collect(selection.selectionSet);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) names.spreads.add(selection.name.value);
      else {
        if (selection.alias) names.aliases += 1;
        const key = selection.alias?.value ?? selection.name.value;
        names.counts.set(key, (names.counts.get(key) ?? 0) + 1);
        if (selection.selectionSet) names.children.push(selection.selectionSet);
      }
    }
  };
  collect(set);
  return names;
}

/**
 * The aliases in the document, and the most times one response name is selected in one selection
 * set, counting the fields of every fragment the set reaches (each once): validation compares
 * every two of those, and their selections in turn.
 */
function measureShape(
  document: DocumentNode,
  fragments: Map<string, FragmentDefinitionNode>,
): { aliases: number; repeated: number } {
  const own = new Map<string, SetNames>();
  const ownOf = (name: string): SetNames => {
    let names = own.get(name);
    if (!names) {
      const fragment = fragments.get(name);
      names = fragment ? namesOf(fragment.selectionSet) : noNames();
      own.set(name, names);
    }
    return names;
  };
  const reached = new Map<string, Set<string>>();
  const reachOf = (name: string, visiting = new Set<string>()): Set<string> => {
    const known = reached.get(name);
    if (known) return known;
    const out = new Set<string>([name]);
    // A fragment cycle is invalid GraphQL (validation refuses it): don't loop on it.
    if (visiting.has(name)) return out;
    visiting.add(name);
    for (const spread of ownOf(name).spreads) for (const r of reachOf(spread, visiting)) out.add(r);
    visiting.delete(name);
    reached.set(name, out);
    return out;
  };
  // Sets that spread the same fragments reach the same fields: add those up once.
  const byReach = new Map<string, Map<string, number>>();
  const reachedCounts = (spreads: Set<string>): Map<string, number> => {
    const key = [...spreads].sort().join(',');
    let counts = byReach.get(key);
    if (!counts) {
      counts = new Map();
      const all = new Set<string>();
      for (const spread of spreads) for (const name of reachOf(spread)) all.add(name);
      for (const name of all)
        for (const [field, n] of ownOf(name).counts) counts.set(field, (counts.get(field) ?? 0) + n);
      byReach.set(key, counts);
    }
    return counts;
  };

  let aliases = 0;
  let repeated = 0;
  // Every selection set of the document, each once.
  const pending: SelectionSetNode[] = [];
  for (const definition of document.definitions)
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION)
      pending.push(definition.selectionSet);
  while (pending.length) {
    const names = namesOf(pending.pop()!);
    aliases += names.aliases;
    const fromFragments = names.spreads.size ? reachedCounts(names.spreads) : undefined;
    for (const [field, n] of names.counts) repeated = Math.max(repeated, n + (fromFragments?.get(field) ?? 0));
    for (const n of fromFragments?.values() ?? []) repeated = Math.max(repeated, n);
    for (const child of names.children) pending.push(child);
  }
  return { aliases, repeated };
}

/** Throws the first limit on its shape the document goes over, cheapest check first. */
export function checkDocument(document: DocumentNode, limits: DocumentLimits): void {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let fragmentCount = 0;
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragmentCount += 1;
      fragments.set(definition.name.value, definition);
    }
  if (fragmentCount > limits.maxFragments)
    throw refused(
      `The query has ${fragmentCount} fragments; the limit is ${limits.maxFragments}`,
      'QUERY_TOO_MANY_FRAGMENTS',
      { fragments: fragmentCount, limit: limits.maxFragments },
    );
  checkLiterals(document);
  const { aliases, repeated } = measureShape(document, fragments);
  if (aliases > limits.maxAliases)
    throw refused(`The query has ${aliases} aliases; the limit is ${limits.maxAliases}`, 'QUERY_TOO_MANY_ALIASES', {
      aliases,
      limit: limits.maxAliases,
    });
  if (repeated > MAX_REPEATED_FIELD)
    throw refused(
      `A field is selected ${repeated} times in one selection set (with the fragments it spreads); the limit is ${MAX_REPEATED_FIELD}`,
      'QUERY_FIELD_REPEATED',
      { times: repeated, limit: MAX_REPEATED_FIELD },
    );
}

/** Refuses values written in the document that nest past MAX_LITERAL_DEPTH or MAX_LITERAL_LISTS (graphql's visit is iterative: any depth is safe to walk). */
function checkLiterals(document: DocumentNode): void {
  let depth = 0;
  let lists = 0;
  let deepest = 0;
  let mostLists = 0;
  const enter = (list: boolean) => {
    depth += 1;
    if (list) lists += 1;
    deepest = Math.max(deepest, depth);
    mostLists = Math.max(mostLists, lists);
  };
  const leave = (list: boolean) => {
    depth -= 1;
    if (list) lists -= 1;
  };
  visit(document, {
    ObjectValue: { enter: () => enter(false), leave: () => leave(false) },
    ListValue: { enter: () => enter(true), leave: () => leave(true) },
  });
  if (deepest > MAX_LITERAL_DEPTH || mostLists > MAX_LITERAL_LISTS)
    throw refused(
      `A value written in the query nests ${deepest} levels (${mostLists} of them lists); the limits are ${MAX_LITERAL_DEPTH} levels and ${MAX_LITERAL_LISTS} lists: send deeper values as variables`,
      'QUERY_VALUE_TOO_DEEP',
      { depth: deepest, lists: mostLists, limit: MAX_LITERAL_DEPTH, listLimit: MAX_LITERAL_LISTS },
    );
}

// ---------------------------------------------------------------------------------------------
// The operation's measure

export interface OperationMeasure {
  depth: number;
  cost: number;
  /** Fields selected at the root (through fragments). */
  rootFields: number;
  /** It selects `__schema` or `__type`. */
  introspection: boolean;
  /** How deeply it nests introspection's lists (fields, inputFields, interfaces, possibleTypes). */
  introspectionLists: number;
}

/** The measure of one selection set, relative to its own level. */
interface SetMeasure {
  depth: number;
  cost: number;
  /** The part of `cost` from list fields selected right here: what a paged parent multiplies. */
  listCost: number;
  fields: number;
  introspection: boolean;
  introspectionLists: number;
  /** Nesting of introspection list names in this set, as if it were inside an introspection root. */
  listNesting: number;
  /** It depends on the request's variables (a page size or a filter given by one). */
  dynamic: boolean;
}

const emptySet = (): SetMeasure => ({
  depth: 0,
  cost: 0,
  listCost: 0,
  fields: 0,
  introspection: false,
  introspectionLists: 0,
  listNesting: 0,
  dynamic: false,
});

function addInto(into: SetMeasure, part: SetMeasure): void {
  into.depth = Math.max(into.depth, part.depth);
  into.cost += part.cost;
  into.listCost += part.listCost;
  into.fields += part.fields;
  into.introspection ||= part.introspection;
  into.introspectionLists = Math.max(into.introspectionLists, part.introspectionLists);
  into.listNesting = Math.max(into.listNesting, part.listNesting);
  into.dynamic ||= part.dynamic;
}

/** Counts the regexp conditions in a filter given as JSON (a variable's value): iterative, any depth. */
function regexpsInJson(root: unknown): number {
  let count = 0;
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) stack.push(...value);
    else {
      const record = value as Record<string, unknown>;
      if (typeof record.op === 'string' && REGEXP_OPS.has(record.op)) count += 1;
      stack.push(...Object.values(record));
    }
  }
  return count;
}

class Measurer {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly measured = new Map<string, SetMeasure>();
  private readonly measuring = new Set<string>();
  private readonly variableDefaults = new Map<string, ValueNode>();

  constructor(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    private readonly variables: Record<string, unknown>,
    private readonly model: CostModel | undefined,
  ) {
    for (const def of document.definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(def.name.value, def);
    for (const def of operation.variableDefinitions ?? [])
      if (def.defaultValue) this.variableDefaults.set(def.variable.name.value, def.defaultValue);
  }

  selectionSet(set: SelectionSetNode, parent: string | undefined): SetMeasure {
    const measure = emptySet();
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) this.field(selection, parent, measure);
      else if (selection.kind === Kind.INLINE_FRAGMENT)
        addInto(measure, this.selectionSet(selection.selectionSet, selection.typeCondition?.name.value ?? parent));
      else addInto(measure, this.spread(selection.name.value));
    }
    return measure;
  }

  /** A fragment is measured once, however many times it is spread. */
  private spread(name: string): SetMeasure {
    const known = this.measured.get(name);
    if (known) return known;
    const fragment = this.fragments.get(name);
    // A fragment cycle is invalid GraphQL (validation refuses it): don't loop on it.
    if (!fragment || this.measuring.has(name)) return emptySet();
    this.measuring.add(name);
    const measure = this.selectionSet(fragment.selectionSet, fragment.typeCondition.name.value);
    this.measuring.delete(name);
    this.measured.set(name, measure);
    return measure;
  }

  private field(node: FieldNode, parent: string | undefined, into: SetMeasure): void {
    const name = node.name.value;
    into.fields += 1;
    // Answered from the type the gateway already knows: free, as it always was.
    if (name === '__typename') return;
    const info = parent === undefined ? undefined : this.model?.types.get(parent)?.get(name);
    const child = node.selectionSet ? this.selectionSet(node.selectionSet, info?.type) : emptySet();
    const size = this.pageSize(node, info?.defaultPage);
    const own = (info?.cost ?? 1) + this.filterSurcharge(node);

    let cost = own + child.cost;
    if (size.value !== undefined) {
      const paged = Math.max(1, size.value);
      // A connection object: its lists are the page, its totalCount and pageInfo come once.
      cost =
        info && !info.list ? own + (child.cost - child.listCost) + paged * child.listCost : own + paged * child.cost;
    }
    // `ofType` follows a type's wrappers, a few levels at most before null: it nests no deeper.
    const wrapperHop = name === 'ofType' && (parent === undefined || parent === '__Type');
    into.depth = Math.max(into.depth, (wrapperHop ? 0 : 1) + child.depth);
    into.cost += cost;
    if (info?.list) into.listCost += cost;
    into.listNesting = Math.max(into.listNesting, (INTROSPECTION_LISTS.has(name) ? 1 : 0) + child.listNesting);
    if (INTROSPECTION_ROOTS.has(name)) {
      into.introspection = true;
      into.introspectionLists = Math.max(into.introspectionLists, child.listNesting);
    } else {
      into.introspection ||= child.introspection;
      into.introspectionLists = Math.max(into.introspectionLists, child.introspectionLists);
    }
    into.dynamic ||= child.dynamic || size.dynamic || this.usesVariable(node, 'filter');
  }

  private pageSize(node: FieldNode, defaultPage: number | undefined): { value?: number; dynamic: boolean } {
    const arg = node.arguments?.find((a) => SIZE_ARGUMENTS.has(a.name.value));
    if (!arg) return { ...(defaultPage === undefined ? {} : { value: defaultPage }), dynamic: false };
    const dynamic = arg.value.kind === Kind.VARIABLE;
    const given = this.number(arg.value);
    return { value: given ?? defaultPage ?? DEFAULT_LIST_SIZE, dynamic };
  }

  private number(value: ValueNode): number | undefined {
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind !== Kind.VARIABLE) return undefined;
    const name = value.name.value;
    if (name in this.variables) {
      const given = this.variables[name];
      return typeof given === 'number' ? given : undefined;
    }
    const fallback = this.variableDefaults.get(name);
    return fallback ? this.number(fallback) : undefined;
  }

  private filterSurcharge(node: FieldNode): number {
    const filter = node.arguments?.find((a) => a.name.value === 'filter');
    return filter ? REGEXP_FILTER_COST * this.regexps(filter.value) : 0;
  }

  private regexps(value: ValueNode): number {
    switch (value.kind) {
      case Kind.VARIABLE:
        return regexpsInJson(this.variables[value.name.value]);
      case Kind.LIST:
        return value.values.reduce((n, v) => n + this.regexps(v), 0);
      case Kind.OBJECT:
        return value.fields.reduce((n, f) => {
          const v = f.value;
          const isRegexp =
            f.name.value === 'op' && (v.kind === Kind.STRING || v.kind === Kind.ENUM) && REGEXP_OPS.has(v.value);
          return n + (isRegexp ? 1 : 0) + this.regexps(v);
        }, 0);
      default:
        return 0;
    }
  }

  private usesVariable(node: FieldNode, argument: string): boolean {
    const arg = node.arguments?.find((a) => a.name.value === argument);
    if (!arg) return false;
    const stack: ValueNode[] = [arg.value];
    while (stack.length) {
      const value = stack.pop()!;
      if (value.kind === Kind.VARIABLE) return true;
      if (value.kind === Kind.LIST) stack.push(...value.values);
      if (value.kind === Kind.OBJECT) stack.push(...value.fields.map((f) => f.value));
    }
    return false;
  }
}

/** Measures that depend on no variable, kept per operation node (and the model it was measured with). */
const staticMeasures = new WeakMap<
  OperationDefinitionNode,
  { model: CostModel | undefined; measure: OperationMeasure }
>();

export function measureOperation(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
  model?: CostModel,
): OperationMeasure {
  const kept = staticMeasures.get(operation);
  if (kept && kept.model === model) return kept.measure;
  const root = model?.roots[operation.operation];
  const set = new Measurer(document, operation, variables, model).selectionSet(operation.selectionSet, root);
  const measure: OperationMeasure = {
    depth: set.depth,
    cost: set.cost,
    rootFields: set.fields,
    introspection: set.introspection,
    introspectionLists: set.introspectionLists,
  };
  if (!set.dynamic) staticMeasures.set(operation, { model, measure });
  return measure;
}

export interface OperationLimits {
  maxDepth: number;
  maxCost: number;
  /** Unlimited when not given. */
  maxRootFields?: number;
}

/** Throws a typed error (HTTP 400) for the first limit the operation goes over. */
export function checkLimits(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: OperationLimits,
  model?: CostModel,
): void {
  checkMeasure(measureOperation(document, operation, variables, model), limits);
}

export function checkMeasure(measure: OperationMeasure, limits: OperationLimits): void {
  const { depth, cost, rootFields, introspectionLists } = measure;
  if (limits.maxRootFields !== undefined && rootFields > limits.maxRootFields)
    throw refused(
      `The operation selects ${rootFields} root fields; the limit is ${limits.maxRootFields}`,
      'QUERY_TOO_MANY_ROOT_FIELDS',
      { rootFields, limit: limits.maxRootFields },
    );
  if (depth > limits.maxDepth)
    throw refused(`Query depth ${depth} exceeds the limit of ${limits.maxDepth}`, 'QUERY_TOO_DEEP', {
      depth,
      limit: limits.maxDepth,
    });
  if (introspectionLists > MAX_INTROSPECTION_LISTS)
    throw refused(
      `Introspection nests ${introspectionLists} lists of fields or types; the limit is ${MAX_INTROSPECTION_LISTS}`,
      'INTROSPECTION_TOO_DEEP',
      { lists: introspectionLists, limit: MAX_INTROSPECTION_LISTS },
    );
  if (cost > limits.maxCost)
    throw refused(`Query cost ${cost} exceeds the limit of ${limits.maxCost}`, 'QUERY_TOO_COSTLY', {
      cost,
      limit: limits.maxCost,
    });
}

/** Who may select `__schema` and `__type`. */
export const INTROSPECTION_ACCESS = ['everyone', 'authenticated', 'nobody'] as const;
export type IntrospectionAccess = (typeof INTROSPECTION_ACCESS)[number];

/** Throws INTROSPECTION_DISABLED when the caller may not introspect (401 when signing in would help). */
export function checkIntrospection(measure: OperationMeasure, access: IntrospectionAccess, anonymous: boolean): void {
  if (!measure.introspection || access === 'everyone' || (access === 'authenticated' && !anonymous)) return;
  const signIn = access === 'authenticated';
  throw refused(
    signIn ? 'Introspection needs an authenticated caller' : 'Introspection is turned off',
    'INTROSPECTION_DISABLED',
    {},
    signIn ? 401 : 403,
  );
}
