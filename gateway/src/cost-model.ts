// What each field of the served schema costs, read once per schema: what a field returns (to
// follow fragments and to know lists), the page a paged field returns when no `first` is given,
// and the fields that scan far more rows than they return.
import { DEFAULT_PAGE_SIZE } from '@mauntic/platform';
import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  type OperationTypeNode,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
} from 'graphql';

/**
 * What a field costs beyond the 1 every field costs, by coordinate (`Type.field`, or `*.field` for
 * that field on every type). One unit is about one field of one row; the default limit is 20,000.
 */
export const FIELD_COSTS: Readonly<Record<string, number>> = {
  // Every contact of the organization (or every one a filter matches), as one CSV answer.
  'Query.exportContacts': 5_000,
  // Counts the contacts a filter matches: a scan of the organization's contacts.
  'Query.previewSegment': 1_000,
  // Counts every message of the organization, grouped.
  'Query.deliveryStats': 1_000,
  // A count(*) of the connection's rows, whatever page is asked for.
  '*.totalCount': 500,
  // The whole schema, about 200 KB of JSON for three contexts: a few of them in one query are plenty.
  'Query.__schema': 2_000,
};

/**
 * Added for each `op: "regexp"` or `"notRegexp"` condition in a `filter` argument: the expression
 * runs on every contact of the organization, and PostgreSQL cannot use an index for it.
 */
export const REGEXP_FILTER_COST = 1_000;

export interface FieldCost {
  /** The named type the field returns, to measure its selection against. */
  type: string;
  /** It returns a list: a paged parent multiplies it by its page size. */
  list: boolean;
  /** For a field that takes `first` (or `limit`): the page it returns without one. */
  defaultPage?: number;
  /** What the field itself costs. */
  cost: number;
}

export interface CostModel {
  /** Type name -> field name -> cost. */
  types: ReadonlyMap<string, ReadonlyMap<string, FieldCost>>;
  /** The type each kind of operation starts from. */
  roots: Readonly<Partial<Record<OperationTypeNode, string>>>;
}

const SIZE_ARGUMENTS = ['first', 'limit'];

function fieldCost(parent: GraphQLNamedType, field: GraphQLField<unknown, unknown>): FieldCost {
  const sizeArg = field.args.find((a) => SIZE_ARGUMENTS.includes(a.name));
  const defaultPage = sizeArg
    ? typeof sizeArg.defaultValue === 'number'
      ? sizeArg.defaultValue
      : DEFAULT_PAGE_SIZE
    : undefined;
  return {
    type: getNamedType(field.type).name,
    list: isListType(getNullableType(field.type)),
    ...(defaultPage === undefined ? {} : { defaultPage }),
    cost: FIELD_COSTS[`${parent.name}.${field.name}`] ?? FIELD_COSTS[`*.${field.name}`] ?? 1,
  };
}

function buildCostModel(schema: GraphQLSchema): CostModel {
  const types = new Map<string, Map<string, FieldCost>>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    const fields = new Map<string, FieldCost>();
    for (const field of Object.values(type.getFields())) fields.set(field.name, fieldCost(type, field));
    types.set(type.name, fields);
  }
  // The introspection entry points are on the query type without being among its fields.
  const query = schema.getQueryType();
  const queryFields = query && types.get(query.name);
  if (query && queryFields)
    for (const meta of [SchemaMetaFieldDef, TypeMetaFieldDef]) queryFields.set(meta.name, fieldCost(query, meta));
  return {
    types,
    roots: {
      query: query?.name,
      mutation: schema.getMutationType()?.name,
      subscription: schema.getSubscriptionType()?.name,
    },
  };
}

const models = new WeakMap<GraphQLSchema, CostModel>();

/** The schema's cost model, built on first use and kept as long as the schema is. */
export function costModelOf(schema: GraphQLSchema): CostModel {
  let model = models.get(schema);
  if (!model) {
    model = buildCostModel(schema);
    models.set(schema, model);
  }
  return model;
}
