// How a GraphQL request is answered, the same at the gateway and in every subgraph: each error
// carries a code, unexpected ones are masked and logged once, and the HTTP status says whether the
// request itself was wrong. An error may ask for a status and headers in `extensions.http` (a 401,
// a 429 with Retry-After); that part is never shown to the client.
import {
  type ExecutionResult,
  type FormattedExecutionResult,
  GraphQLError,
  type GraphQLFormattedError,
  Kind,
} from 'graphql';
import type { Logger } from '../logger.ts';
import type { HttpResponse } from './http.ts';

export interface GraphQLAnswer {
  status: number;
  headers: Record<string, string>;
  result: FormattedExecutionResult;
}

type Formatted = GraphQLFormattedError & { extensions?: Record<string, unknown> };
export type ErrorMask = (formatted: Formatted, error: unknown) => Formatted;

/** Unexpected errors are logged once here and reach clients without their internals. */
export function maskUnexpected(logger: Logger): ErrorMask {
  return (formatted, error) => {
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    logger.error({ err: (error as { originalError?: unknown })?.originalError ?? error }, 'unexpected error');
    return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

interface HttpHint {
  status?: number;
  headers?: Record<string, string>;
}

/** An error as GraphQL reports one: some of what a gateway's execution returns are plain errors. */
const asGraphQLError = (error: unknown): GraphQLError =>
  error instanceof GraphQLError
    ? error
    : new GraphQLError(error instanceof Error ? error.message : String(error), {
        ...(error instanceof Error ? { originalError: error } : {}),
      });

/** The errors formatted for the client, and the status and headers they asked for. */
function format(errors: readonly unknown[], mask: ErrorMask, code: (error: GraphQLError) => string) {
  const http: HttpHint = {};
  const formatted = errors.map((raw) => {
    const error = asGraphQLError(raw);
    const { http: hint, ...extensions } = error.extensions as Record<string, unknown> & { http?: HttpHint };
    if (hint?.status) http.status = hint.status;
    if (hint?.headers) http.headers = { ...http.headers, ...hint.headers };
    return mask({ ...error.toJSON(), extensions: { ...extensions, code: extensions.code ?? code(error) } }, error);
  });
  return { formatted, http };
}

/**
 * A request refused before its operation ran: the errors are the whole answer, each with its own
 * code (or `code`), with the status an error asks for or `status`.
 */
export function refusal(errors: readonly GraphQLError[], mask: ErrorMask, code: string, status = 400): GraphQLAnswer {
  const { formatted, http } = format(errors, mask, () => code);
  return { status: http.status ?? status, headers: http.headers ?? {}, result: { errors: formatted } };
}

/**
 * An operation's result. One that never started (no data: a variable could not be coerced, or
 * there was no operation to run) is the caller's error, 400; errors without a code raised while it
 * ran are unexpected.
 */
export function answerOf(result: ExecutionResult, mask: ErrorMask): GraphQLAnswer {
  const started = result.data !== undefined;
  const { formatted, http } = format(result.errors ?? [], mask, (error) =>
    started
      ? 'INTERNAL_SERVER_ERROR'
      : error.nodes?.[0]?.kind === Kind.VARIABLE_DEFINITION
        ? 'BAD_USER_INPUT'
        : 'BAD_REQUEST',
  );
  return {
    status: http.status ?? (started ? 200 : 400),
    headers: http.headers ?? {},
    result: { ...(formatted.length ? { errors: formatted } : {}), ...(started ? { data: result.data } : {}) },
  };
}

export function httpAnswer(answer: GraphQLAnswer, headers: Record<string, string> = {}): HttpResponse {
  return {
    status: answer.status,
    headers: { ...headers, ...answer.headers, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(answer.result),
  };
}
