// Types every subgraph shares: scalars and the expected-failure types. Object types are
// @shareable so the same definitions compose from several subgraphs.
import {
  ConflictError,
  type DomainError,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
} from '@mauntic/kernel';
import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql';
import type { Builder } from './builder.ts';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function parseDate(value: unknown): Date {
  const date = typeof value === 'string' || value instanceof Date ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime()) || (typeof value === 'string' && !/^\d{4}-\d{2}-\d{2}T/.test(value)))
    throw new GraphQLError('DateTime must be an ISO-8601 date-time string', { extensions: { code: 'BAD_USER_INPUT' } });
  // Years a database and a calendar both hold (Postgres has no year 0; JavaScript reaches 275760).
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999)
    throw new GraphQLError('DateTime must fall in the years 0001 to 9999', { extensions: { code: 'BAD_USER_INPUT' } });
  return date;
}

function parseEmail(value: unknown): string {
  if (typeof value !== 'string' || value.length > 254 || !EMAIL.test(value))
    throw new GraphQLError('EmailAddress must be an email address', { extensions: { code: 'BAD_USER_INPUT' } });
  return value.trim();
}

export function addCommonTypes(builder: Builder) {
  builder.scalarType('DateTime', {
    description: 'An ISO-8601 date-time with a time zone offset, e.g. 2026-11-26T10:00:00.000Z',
    serialize: (value) => (value instanceof Date ? value : new Date(value)).toISOString(),
    parseValue: parseDate,
    parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
  });
  builder.scalarType('JSON', {
    description: 'Any JSON value',
    serialize: (v) => v,
    parseValue: (v) => v,
    parseLiteral: (ast, variables) => plainJson(valueFromASTUntyped(ast, variables)),
  });
  builder.scalarType('EmailAddress', {
    description: 'An email address (RFC 5322 addr-spec, at most 254 characters)',
    serialize: (v) => String(v),
    parseValue: parseEmail,
    parseLiteral: (ast) => parseEmail(ast.kind === Kind.STRING ? ast.value : undefined),
  });

  const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
    description: 'An expected failure, returned in a mutation payload',
    fields: (t) => ({
      message: t.exposeString('message'),
      code: t.exposeString('code'),
    }),
  });

  const FieldIssue = builder.objectRef<{ path: string[]; message: string }>('FieldIssue').implement({
    shareable: true,
    fields: (t) => ({
      path: t.exposeStringList('path', { description: 'Input path of the offending value, e.g. ["input", "email"]' }),
      message: t.exposeString('message'),
    }),
  });

  builder.objectType(ValidationError, {
    name: 'ValidationError',
    shareable: true,
    interfaces: [ErrorInterface],
    fields: (t) => ({ issues: t.field({ type: [FieldIssue], resolve: (e) => e.issues }) }),
  });
  builder.objectType(NotFoundError, {
    name: 'NotFoundError',
    shareable: true,
    interfaces: [ErrorInterface],
    fields: (t) => ({ entity: t.exposeString('entity'), id: t.exposeString('id') }),
  });
  builder.objectType(ConflictError, {
    name: 'ConflictError',
    shareable: true,
    interfaces: [ErrorInterface],
    fields: () => ({}),
  });
  builder.objectType(UnauthenticatedError, {
    name: 'UnauthenticatedError',
    shareable: true,
    interfaces: [ErrorInterface],
    fields: () => ({}),
  });
  builder.objectType(ForbiddenError, {
    name: 'ForbiddenError',
    shareable: true,
    interfaces: [ErrorInterface],
    fields: (t) => ({ required: t.exposeString('required', { description: 'The role or scope that was missing' }) }),
  });

  return { ErrorInterface };
}

/** The error types every mutation may return. */
export const COMMON_ERRORS = [ValidationError, UnauthenticatedError, ForbiddenError] as const;

/**
 * For query fields: a domain failure becomes a GraphQL error with its code (queries have no
 * payload union to carry typed errors).
 */
export function orThrow<T>(result: { ok: true; value: T } | { ok: false; error: DomainError }): T {
  if (result.ok) return result.value;
  throw new GraphQLError(result.error.message, { extensions: { code: result.error.code } });
}

export const FEDERATION = {
  linkUrl: 'https://specs.apollo.dev/federation/v2.6',
  federationDirectives: [
    '@key',
    '@shareable',
    '@external',
    '@extends',
    '@requires',
    '@provides',
    '@inaccessible',
    '@tag',
    '@override',
  ],
};

/**
 * graphql-js builds the objects of a literal without a prototype (`Object.create(null)`); the rest
 * of the code (drizzle's JSON columns among it) expects the plain objects a variable gives.
 */
function plainJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainJson);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plainJson(item)]));
  return value;
}
