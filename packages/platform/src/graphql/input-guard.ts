// Bad input is answered at the boundary, once for every subgraph, never as an internal error:
// - before a resolver runs, its arguments are checked by their GraphQL types: an ID must be a
//   UUID, no text (nor any string inside a JSON value) may hold a NUL byte or an unpaired
//   surrogate, JSON may nest at most MAX_JSON_DEPTH levels, and `first`/`last`/`limit` may not be
//   negative;
// - a PostgreSQL data exception the input caused (SQLSTATE class 22: a number out of range, a
//   date Postgres cannot hold, an invalid regular expression...; 54001: too complex) becomes
//   the same answer. Its transaction has already rolled back, so nothing is half-written.
// The answer is a ValidationError in the payload for fields that declare one (each aliased
// mutation reports its own result), and a BAD_USER_INPUT error otherwise. A Pothos plugin of the
// shared builder, so every subgraph has it.
import { type FieldIssue, ValidationError } from '@mauntic/kernel';
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import {
  type GraphQLArgument,
  GraphQLError,
  type GraphQLFieldResolver,
  GraphQLInputObjectType,
  type GraphQLInputType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
} from 'graphql';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A NUL byte, or half of a surrogate pair without its other half.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the NUL byte is what this looks for.
const UNSAFE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const PAGE_SIZE_ARGS = new Set(['first', 'last', 'limit']);
export const MAX_JSON_DEPTH = 32;

const unsafeText = (text: string) =>
  text.includes('\u0000') ? 'must not contain a NUL byte' : 'must be valid Unicode (an unpaired surrogate)';

function checkJson(value: unknown, path: string[], issues: FieldIssue[], depth: number): void {
  if (depth > MAX_JSON_DEPTH) {
    issues.push({ path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` });
    return;
  }
  if (typeof value === 'string') {
    if (UNSAFE_TEXT.test(value)) issues.push({ path, message: unsafeText(value) });
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length && issues.length < 10; i++)
      checkJson(value[i], [...path, String(i)], issues, depth + 1);
  } else if (value && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, inner] of Object.entries(value)) {
      if (issues.length >= 10) return;
      if (UNSAFE_TEXT.test(key)) issues.push({ path: [...path, key], message: unsafeText(key) });
      else checkJson(inner, [...path, key], issues, depth + 1);
    }
  }
}

function checkValue(type: GraphQLInputType, value: unknown, path: string[], issues: FieldIssue[]): void {
  if (value === null || value === undefined || issues.length >= 10) return;
  if (type instanceof GraphQLNonNull) {
    checkValue(type.ofType, value, path, issues);
    return;
  }
  if (type instanceof GraphQLList) {
    if (Array.isArray(value))
      for (const [i, item] of value.entries()) checkValue(type.ofType, item, [...path, String(i)], issues);
    return;
  }
  if (type instanceof GraphQLInputObjectType) {
    const fields = type.getFields();
    for (const [name, inner] of Object.entries(value as Record<string, unknown>))
      if (fields[name]) checkValue(fields[name].type, inner, [...path, name], issues);
    return;
  }
  if (!(type instanceof GraphQLScalarType)) return;
  if (type.name === 'ID') {
    if (typeof value !== 'string' || !UUID.test(value)) issues.push({ path, message: 'is not a valid id' });
  } else if (type.name === 'JSON') checkJson(value, path, issues, 0);
  else if (typeof value === 'string' && UNSAFE_TEXT.test(value)) issues.push({ path, message: unsafeText(value) });
  else if (typeof value === 'number' && value < 0 && PAGE_SIZE_ARGS.has(path.at(-1)!))
    issues.push({ path, message: 'must not be negative' });
}

function checkArguments(args: readonly GraphQLArgument[], values: Record<string, unknown>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const arg of args) checkValue(arg.type, values[arg.name], [arg.name], issues);
  return issues;
}

const DATA_ERRORS: Record<string, string> = {
  '22001': 'a text is too long',
  '22003': 'a number is out of range',
  '22007': 'a date or time is not valid',
  '22008': 'a date or time is out of range',
  '22021': 'a text holds a character that cannot be stored',
  '22P02': 'a value is not of the expected kind (an id, a number, a date...)',
  '22P05': 'a text holds a character that cannot be stored',
  '2201B': 'a regular expression is not valid',
  '22023': 'a value is not valid',
  '54001': 'the request is too complex (a regular expression or filter)',
};

/** The issue a database error stands for when the input caused it; undefined for any other error. */
export function inputIssueOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let i = 0; i < 5 && current; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code))
      return DATA_ERRORS[code] ?? (code.startsWith('22') ? 'a value is not valid' : undefined);
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** How a field answers bad input: a ValidationError in its payload when it declares one, else BAD_USER_INPUT. */
function rejection(answersTyped: boolean, issues: FieldIssue[]): Error {
  const error = new ValidationError(issues);
  if (answersTyped) return error;
  return new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', issues } });
}

export class InputGuardPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (!Object.keys(fieldConfig.args).length) return resolver;
    const errors = (fieldConfig.pothosOptions as { errors?: { types?: unknown[] } }).errors;
    const answersTyped = Boolean(errors?.types?.includes(ValidationError));
    // Runs inside the errors plugin's wrapper, which turns a thrown ValidationError into the payload.
    return async (source, args, context, info) => {
      const field = info.parentType.getFields()[info.fieldName]!;
      const issues = checkArguments(field.args, args as Record<string, unknown>);
      if (issues.length) throw rejection(answersTyped, issues);
      try {
        return await resolver(source, args, context, info);
      } catch (error) {
        const issue = inputIssueOf(error);
        if (!issue) throw error;
        throw rejection(answersTyped, [{ path: [], message: issue }]);
      }
    };
  }
}

SchemaBuilder.registerPlugin('inputGuard', InputGuardPlugin);

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      inputGuard: InputGuardPlugin<Types>;
    }
  }
}

export const inputGuardPlugin = 'inputGuard' as const;
