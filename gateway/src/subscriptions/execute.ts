// One event as a result of the subscriber's operation. graphql-js executes the operation over the
// event's payload (the merged schema: API schema + schema/subscriptions.graphql); an entity field
// (`contact { email fields }`) becomes a query of the graph's field of the same name
// (`contact(id:)`) with the subscriber's own selection, run by the gateway's executor with the
// subscriber's credentials: the same types, the same authorisation, the same subgraph calls as a
// query. What the graph answers is read back by response key (aliases included).
import { createHash } from 'node:crypto';
import type { RequestContext } from '@mauntic/kernel';
import {
  type ASTNode,
  type DocumentNode,
  type ExecutionResult,
  execute,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getNamedType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  print,
  visit,
} from 'graphql';
import { EventPayload } from './fields.ts';

/** Runs a query through the gateway's own executor, as `caller`. */
export type QueryRunner = (
  query: { document: DocumentNode; operation: OperationDefinitionNode; source: string; hash: string },
  variables: Record<string, unknown>,
  caller: RequestContext,
) => Promise<ExecutionResult>;

/** Payload fields resolved through the graph: each has `<name>Id` beside it and a `Query.<name>(id: ID!)`. */
const ENTITY_FIELDS = new Set(['contact', 'segment', 'message', 'template', 'journey', 'campaign']);
const ID_VARIABLE = 'subscriptionEntityId';

interface EntityQuery {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  source: string;
  hash: string;
}

/** Built once per field of a subscription's document (keyed by its first field node). */
const entityQueries = new WeakMap<FieldNode, EntityQuery>();

function entityQuery(info: GraphQLResolveInfo): EntityQuery {
  const first = info.fieldNodes[0]!;
  const known = entityQueries.get(first);
  if (known) return known;
  const selections = info.fieldNodes.flatMap((node) => node.selectionSet?.selections ?? []);
  // Only the fragments and variables the selection uses: the query is validated as any other.
  const fragments = new Map<string, FragmentDefinitionNode>();
  const variables = new Set<string>();
  const collect = (node: ASTNode) =>
    visit(node, {
      FragmentSpread: (spread) => {
        const fragment = info.fragments[spread.name.value];
        if (!fragment || fragments.has(spread.name.value)) return;
        fragments.set(spread.name.value, fragment);
        collect(fragment);
      },
      Variable: (variable) => void variables.add(variable.name.value),
    });
  for (const selection of selections) collect(selection);
  const operation: OperationDefinitionNode = {
    kind: Kind.OPERATION_DEFINITION,
    operation: 'query' as OperationDefinitionNode['operation'],
    name: { kind: Kind.NAME, value: 'SubscriptionEntity' },
    variableDefinitions: [
      {
        kind: Kind.VARIABLE_DEFINITION,
        variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ID_VARIABLE } },
        type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } } },
      },
      ...(info.operation.variableDefinitions ?? []).filter((d) => variables.has(d.variable.name.value)),
    ],
    directives: [],
    selectionSet: {
      kind: Kind.SELECTION_SET,
      selections: [
        {
          kind: Kind.FIELD,
          alias: { kind: Kind.NAME, value: 'entity' },
          name: { kind: Kind.NAME, value: info.fieldName },
          arguments: [
            {
              kind: Kind.ARGUMENT,
              name: { kind: Kind.NAME, value: 'id' },
              value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ID_VARIABLE } },
            },
          ],
          directives: [],
          selectionSet: {
            kind: Kind.SELECTION_SET,
            // The same field selected twice (fragments) is merged, as graphql-js merges it.
            selections,
          },
        },
      ],
    },
  };
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [operation, ...fragments.values()] };
  const source = print(document);
  const built = { document, operation, source, hash: createHash('sha256').update(source).digest('hex') };
  entityQueries.set(first, built);
  return built;
}

interface EventContext {
  caller: RequestContext;
  variables: Record<string, unknown>;
  runQuery: QueryRunner;
}

const fieldResolver: GraphQLFieldResolver<unknown, EventContext> = (source, _args, context, info) => {
  if (!(source instanceof EventPayload)) return (source as Record<string, unknown> | null)?.[info.path.key];
  const values = source as unknown as Record<string, unknown>;
  if (!ENTITY_FIELDS.has(info.fieldName) || !isObjectType(getNamedType(info.returnType))) return values[info.fieldName];
  const id = values[`${info.fieldName}Id`];
  if (id == null) return null;
  return resolveEntity(info, String(id), context);
};

async function resolveEntity(info: GraphQLResolveInfo, id: string, { caller, variables, runQuery }: EventContext) {
  const query = entityQuery(info);
  const result = await runQuery(query, { ...variables, [ID_VARIABLE]: id }, caller);
  const entity = (result.data as { entity?: unknown } | null | undefined)?.entity;
  const error = result.errors?.[0];
  if (entity == null && error) throw new GraphQLError(error.message, { extensions: { ...error.extensions } });
  return entity ?? null;
}

/** The subscriber's operation over one event's payload, under the root field's response key. */
export function executeEvent(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  responseKey: string,
  payload: EventPayload,
  context: EventContext,
): Promise<ExecutionResult> | ExecutionResult {
  return execute({
    schema,
    document,
    ...(operationName ? { operationName } : {}),
    rootValue: { [responseKey]: payload },
    contextValue: context,
    variableValues: context.variables,
    fieldResolver,
  });
}
