import { Writable } from 'node:stream';
import type { RequestContext } from '@mauntic/kernel';
import { parse } from 'graphql';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createBuilder } from '../graphql/builder.ts';
import { addCommonTypes } from '../graphql/common.ts';
import type { HttpRequest } from './http.ts';
import { INTERNAL_CONTEXT_HEADER, secretKey, signInternalContext } from './internal-context.ts';
import { Subgraph } from './subgraph.ts';

const key = secretKey('k'.repeat(32));
const caller: RequestContext = {
  correlationId: 'c-1',
  actor: { type: 'user', id: 'u-1' },
  organizationId: '01900000-0000-7000-8000-000000000001' as RequestContext['organizationId'],
  role: 'editor',
  scopes: ['*:read'],
};

const builder = createBuilder();
addCommonTypes(builder);
builder.queryType({
  fields: (t) => ({
    whoami: t.string({ resolve: (_, __, ctx) => ctx.request.actor.type }),
    echo: t.string({ args: { email: t.arg({ type: 'EmailAddress', required: true }) }, resolve: (_, a) => a.email }),
    broken: t.string({
      nullable: true,
      resolve: () => {
        throw new Error('connection to 10.0.0.7:5432 refused');
      },
    }),
  }),
});

function subgraph() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = pino({ level: 'error' }, sink);
  return {
    lines,
    subgraph: new Subgraph({ name: 'test', schema: builder.toSchema(), services: {}, internalKey: key, logger }),
  };
}

const post = (body: string, headers: Record<string, string> = {}) =>
  ({ method: 'POST', path: '/graphql', search: '', headers, body: Buffer.from(body), raw: {} }) as HttpRequest;
const signed = () => ({ [INTERNAL_CONTEXT_HEADER]: signInternalContext(caller, key) });

describe('a subgraph', () => {
  it('refuses a call without a valid signed context before it reads the operation', async () => {
    const { subgraph: s } = subgraph();
    const unsigned = await s.route()(post(JSON.stringify({ query: '{ whoami' })));
    expect(unsigned.status).toBe(401);
    expect(JSON.parse(String(unsigned.body)).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const forged = signInternalContext(caller, secretKey('x'.repeat(32)));
    const other = await s.execute({ context: forged, query: '{ whoami }' });
    expect(other).toMatchObject({ status: 401, result: { errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] } });
    expect(other.result.data).toBeUndefined();
  });

  it('runs an operation for the signed caller, from its text over HTTP or parsed in-process', async () => {
    const { subgraph: s } = subgraph();
    const overHttp = await s.route()(post(JSON.stringify({ query: '{ whoami }' }), signed()));
    expect(overHttp.status).toBe(200);
    expect(JSON.parse(String(overHttp.body))).toEqual({ data: { whoami: 'user' } });
    const document = parse('query Echo($e: EmailAddress!) { echo(email: $e) }');
    for (let i = 0; i < 2; i++) {
      const inProcess = await s.execute({
        context: signed()[INTERNAL_CONTEXT_HEADER],
        document,
        variables: { e: 'a@example.com' },
        operationName: 'Echo',
      });
      expect(inProcess).toEqual({ status: 200, headers: {}, result: { data: { echo: 'a@example.com' } } });
    }
  });

  it('answers a variable its scalar refuses as BAD_USER_INPUT, with status 400', async () => {
    const { subgraph: s, lines } = subgraph();
    const answer = await s.execute({
      context: signed()[INTERNAL_CONTEXT_HEADER],
      query: 'query($e: EmailAddress!) { echo(email: $e) }',
      variables: { e: 'not an address' },
    });
    expect(answer.status).toBe(400);
    expect(answer.result.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(lines).toEqual([]);
  });

  it('refuses an operation that does not parse or does not fit the schema, with status 400', async () => {
    const { subgraph: s } = subgraph();
    const context = signed()[INTERNAL_CONTEXT_HEADER];
    const syntax = await s.execute({ context, query: '{ whoami' });
    expect(syntax).toMatchObject({
      status: 400,
      result: { errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] },
    });
    const unknown = await s.execute({ context, document: parse('{ nothing }') });
    expect(unknown).toMatchObject({
      status: 400,
      result: { errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] },
    });
    expect((await s.route()(post('not json', signed()))).status).toBe(400);
    expect((await s.route()({ ...post(''), method: 'GET' })).status).toBe(405);
  });

  it('masks an unexpected error and logs it once, keeping the rest of the answer', async () => {
    const { subgraph: s, lines } = subgraph();
    const answer = await s.execute({ context: signed()[INTERNAL_CONTEXT_HEADER], query: '{ whoami broken }' });
    expect(answer.status).toBe(200);
    expect(answer.result).toEqual({
      data: { whoami: 'user', broken: null },
      errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'unexpected error',
      err: { message: 'connection to 10.0.0.7:5432 refused' },
    });
  });
});
