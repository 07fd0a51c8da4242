// What a GraphQL request over HTTP carries, read as Apollo Server reads one, so clients see the
// endpoint they saw before: a JSON POST of { query, variables, operationName, extensions }, or a
// GET with those in its search (queries only). A request a browser could send from another site
// without a preflight (a GET, or a POST of a form or plain-text type) must carry a header that
// forces one, so a page elsewhere cannot act with a visitor's cookies or network position (CSRF).
import type { HttpRequest } from '@mauntic/platform';
import { GraphQLError } from 'graphql';

export interface GraphQLRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  extensions?: Record<string, unknown>;
}

/** A request refused as malformed: 400 unless `http` says otherwise. */
export const badRequest = (
  message: string,
  code = 'BAD_REQUEST',
  http: { status?: number; headers?: Record<string, string> } = {},
) => new GraphQLError(message, { extensions: { code, http: { status: 400, ...http } } });

const NON_PREFLIGHTED_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
const PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'];

const header = (req: HttpRequest, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

function preventCsrf(req: HttpRequest): void {
  const contentType = header(req, 'content-type');
  const essence = contentType?.split(';')[0]?.trim().toLowerCase();
  if (essence !== undefined && !NON_PREFLIGHTED_CONTENT_TYPES.includes(essence)) return;
  if (PREFLIGHT_HEADERS.some((name) => (header(req, name) ?? '').length > 0)) return;
  throw badRequest(
    'This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please either specify a ' +
      `'content-type' header (with a type that is not one of ${NON_PREFLIGHTED_CONTENT_TYPES.join(', ')}) or provide ` +
      `a non-empty value for one of the following headers: ${PREFLIGHT_HEADERS.join(', ')}`,
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A GET's search parameter holding JSON (variables, extensions). */
function jsonParameter(search: URLSearchParams, name: string): unknown {
  const value = search.get(name);
  if (value === null) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw badRequest(`The ${name} search parameter contains invalid JSON.`);
  }
}

function fieldsOf(req: HttpRequest): Record<string, unknown> {
  if (req.method === 'GET') {
    const search = new URLSearchParams(req.search);
    return {
      query: search.get('query') ?? undefined,
      operationName: search.get('operationName') ?? undefined,
      variables: jsonParameter(search, 'variables'),
      extensions: jsonParameter(search, 'extensions'),
    };
  }
  let body: unknown;
  try {
    body = req.body.length ? JSON.parse(req.body.toString('utf8')) : undefined;
  } catch {
    throw badRequest('The body is not JSON');
  }
  if (Array.isArray(body)) throw badRequest('Operation batching is not supported: send one operation a request.');
  if (!isRecord(body) || !Object.keys(body).length)
    throw badRequest('POST body missing, invalid Content-Type, or JSON object has no keys.');
  return body;
}

/** The request's operation and its inputs, or a typed refusal: 405 for other methods, 400 otherwise. */
export function graphQLRequestOf(req: HttpRequest): GraphQLRequest {
  if (req.method !== 'GET' && req.method !== 'POST')
    throw badRequest('The GraphQL endpoint takes GET and POST requests.', 'BAD_REQUEST', {
      status: 405,
      headers: { allow: 'GET, POST' },
    });
  preventCsrf(req);
  const { query, variables, operationName, extensions } = fieldsOf(req);
  for (const [name, value] of [
    ['variables', variables],
    ['extensions', extensions],
  ] as const)
    if (value != null && !isRecord(value)) throw badRequest(`\`${name}\` must be an object if provided.`);
  if (operationName != null && typeof operationName !== 'string')
    throw badRequest('`operationName` must be a string if provided.');
  // Automatic persisted queries are not kept: a client that tries one falls back to sending the query.
  if (isRecord(extensions) && extensions.persistedQuery !== undefined)
    throw badRequest('PersistedQueryNotSupported', 'PERSISTED_QUERY_NOT_SUPPORTED');
  if (typeof query !== 'string' || !query) throw badRequest('GraphQL operations must contain a non-empty `query`.');
  return {
    query,
    ...(isRecord(variables) ? { variables } : {}),
    ...(operationName ? { operationName } : {}),
    ...(isRecord(extensions) ? { extensions } : {}),
  };
}
