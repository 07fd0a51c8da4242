// What every context's tenant-isolation matrix needs: run a field as an organization through the
// subgraph schema, see every row an organization owns, and know which fields lack a case.
import { type ExecutionResult, type GraphQLSchema, graphql } from 'graphql';
import { type DatabaseHandle, sql } from '../db/database.ts';
import { createLogger } from '../logger.ts';

/** GraphQL results, read loosely in the cases. */
export type Data = Record<string, any>;

export interface IsolationCase<F> {
  query: string;
  variables?: (a: F, b: F) => Record<string, unknown>;
  /** What the other organization must get back; `data` is the result's data, `errors` its errors. */
  expect: (result: { data: Data; errors: readonly { message: string; extensions?: Data }[] }, a: F) => void;
}

/** The `{ __typename ... on Error { code } }` selection of a mutation payload. */
export const PAYLOAD = '{ __typename ... on Error { code } }';

/** Every row of an organization, in every table of `schemaName` that carries organization_id. */
export async function organizationSnapshot(
  handle: DatabaseHandle,
  schemaName: string,
  organizationId: string,
): Promise<string> {
  const tables = await handle.rows<{ table_name: string }>(
    sql`select table_name from information_schema.columns
        where table_schema = ${schemaName} and column_name = 'organization_id' order by table_name`,
  );
  const dump: Record<string, string[]> = {};
  for (const { table_name } of tables) {
    const rows = await handle.rows<{ row: string }>(
      sql`select to_jsonb(t)::text as row from ${sql.identifier(schemaName)}.${sql.identifier(table_name)} t
          where organization_id = ${organizationId}::uuid`,
    );
    dump[table_name] = rows.map((r) => r.row).sort();
  }
  return JSON.stringify(dump);
}

const logger = createLogger('test', 'silent');

/** Runs a case's operation through the subgraph schema as the caller `request`. */
export function runAs<F>(
  schema: GraphQLSchema,
  services: unknown,
  c: IsolationCase<F>,
  request: unknown,
  a: F,
  b: F,
): Promise<ExecutionResult> {
  return graphql({
    schema,
    source: c.query,
    variableValues: c.variables?.(a, b) ?? {},
    contextValue: { request, services, log: logger },
  });
}

/** The Query and Mutation fields of a schema, to compare with the cases written for them. */
export const fieldsOf = (schema: GraphQLSchema) => ({
  queries: Object.keys(schema.getQueryType()?.getFields() ?? {}).sort(),
  mutations: Object.keys(schema.getMutationType()?.getFields() ?? {}).sort(),
});
