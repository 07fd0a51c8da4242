// Query depth and cost limits, checked once the operation is resolved and before it runs.
// Cost: every field costs 1; a field with a `first` (or `limit`) argument multiplies what is
// beneath it by that number, so a page of 100 contacts with 10 fields costs about 1,000.
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

const DEFAULT_LIST_SIZE = 20;

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const map = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) map.set(def.name.value, def);
  return map;
}

function numberArg(value: ValueNode | undefined, variables: Record<string, unknown>): number | undefined {
  if (!value) return undefined;
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) {
    const v = variables[value.name.value];
    return typeof v === 'number' ? v : undefined;
  }
  return undefined;
}

export interface OperationMeasure {
  depth: number;
  cost: number;
}

export function measureOperation(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
): OperationMeasure {
  const fragments = fragmentsOf(document);

  const walk = (set: SelectionSetNode, depth: number, seen: Set<string>): OperationMeasure => {
    let maxDepth = depth;
    let cost = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue;
        let fieldCost = 1;
        if (selection.selectionSet) {
          const child = walk(selection.selectionSet, depth + 1, seen);
          maxDepth = Math.max(maxDepth, child.depth);
          const sizeArg = selection.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'limit');
          const size = sizeArg ? (numberArg(sizeArg.value, variables) ?? DEFAULT_LIST_SIZE) : 1;
          fieldCost += child.cost * Math.max(1, size);
        }
        cost += fieldCost;
      } else {
        let inner: SelectionSetNode | undefined;
        let key: string | undefined;
        if (selection.kind === Kind.INLINE_FRAGMENT) inner = selection.selectionSet;
        else {
          key = selection.name.value;
          if (seen.has(key)) continue; // a fragment cycle is invalid GraphQL; don't loop on it
          inner = fragments.get(key)?.selectionSet;
        }
        if (!inner) continue;
        const child = walk(inner, depth, key ? new Set([...seen, key]) : seen);
        maxDepth = Math.max(maxDepth, child.depth);
        cost += child.cost;
      }
    }
    return { depth: maxDepth, cost };
  };

  return walk(operation.selectionSet, 1, new Set());
}

export function checkLimits(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: { maxDepth: number; maxCost: number },
): void {
  const { depth, cost } = measureOperation(document, operation, variables);
  if (depth > limits.maxDepth)
    throw new GraphQLError(`Query depth ${depth} exceeds the limit of ${limits.maxDepth}`, {
      extensions: { code: 'QUERY_TOO_DEEP', depth, limit: limits.maxDepth, http: { status: 400 } },
    });
  if (cost > limits.maxCost)
    throw new GraphQLError(`Query cost ${cost} exceeds the limit of ${limits.maxCost}`, {
      extensions: { code: 'QUERY_TOO_COSTLY', cost, limit: limits.maxCost, http: { status: 400 } },
    });
}
