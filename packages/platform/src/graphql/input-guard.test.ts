import { anonymousContext } from '@mauntic/kernel';
import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createBuilder } from './builder.ts';
import { addCommonTypes, COMMON_ERRORS } from './common.ts';
import { inputIssueOf } from './input-guard.ts';

/** A schema whose resolvers do what a test asks: echo, or throw a database-like error. */
function schemaFor(behaviour: () => unknown) {
  const builder = createBuilder();
  addCommonTypes(builder);
  const Echo = builder
    .objectRef<{ text: string }>('Echo')
    .implement({ fields: (t) => ({ text: t.exposeString('text') }) });
  builder.queryType({
    fields: (t) => ({
      find: t.field({
        type: Echo,
        nullable: true,
        args: { id: t.arg.id({ required: true }), first: t.arg.int() },
        resolve: (_, { id }) => (behaviour() as null) ?? { text: String(id) },
      }),
    }),
  });
  builder.mutationType({
    fields: (t) => ({
      save: t.field({
        type: Echo,
        errors: { types: [...COMMON_ERRORS] },
        args: { text: t.arg.string({ required: true }), data: t.arg({ type: 'JSON' }) },
        resolve: (_, { text }) => (behaviour() as null) ?? { text },
      }),
    }),
  });
  return builder.toSchema();
}

const run = (schema: ReturnType<typeof schemaFor>, source: string, variableValues?: Record<string, unknown>) =>
  graphql({ schema, source, variableValues, contextValue: { request: anonymousContext('c'), services: {} } });

const SAVE =
  'mutation($t: String!, $d: JSON) { a: save(text: $t, data: $d) { __typename ... on ValidationError { issues { path message } } ... on Echo { text } } }';

describe('the input guard', () => {
  const echo = schemaFor(() => null);

  it('answers a mutation whose text holds a NUL byte or an unpaired surrogate with a ValidationError in its payload', async () => {
    for (const text of ['a\u0000b', 'x\ud800', '\udc00']) {
      const result = await run(echo, SAVE, { t: text });
      expect(result.errors).toBeUndefined();
      expect(result.data?.a).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['text'] }] });
    }
    const fine = await run(echo, SAVE, { t: 'emoji 😀 ok' });
    expect(fine.data?.a).toMatchObject({ __typename: 'Echo', text: 'emoji 😀 ok' });
  });

  it('looks inside JSON values, keys and nesting included', async () => {
    const nul = await run(echo, SAVE, { t: 'x', d: { nested: [{ '\u0000key': 1 }] } });
    expect(nul.data?.a).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ path: ['data', 'nested', '0', '\u0000key'] }],
    });
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { and: [deep] };
    const tooDeep = await run(echo, SAVE, { t: 'x', d: deep });
    expect(tooDeep.data?.a).toMatchObject({ __typename: 'ValidationError' });
  });

  it('answers a query with an id that is not a UUID, or a negative page size, with BAD_USER_INPUT', async () => {
    for (const args of ['id: "not-a-uuid"', 'id: "0190a000-0000-7000-8000-000000000001", first: -1']) {
      const result = await run(echo, `{ find(${args}) { text } }`);
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const fine = await run(echo, '{ find(id: "0190A000-0000-7000-8000-000000000001") { text } }');
    expect(fine.data?.find).toEqual({ text: '0190A000-0000-7000-8000-000000000001' });
  });

  it('turns a database data exception the input caused into the same answers, and leaves other errors alone', async () => {
    const overflow = Object.assign(new Error('Failed query'), {
      cause: Object.assign(new Error('out of range'), { code: '22003' }),
    });
    const failing = schemaFor(() => {
      throw overflow;
    });
    const mutation = await run(failing, SAVE, { t: 'x' });
    expect(mutation.data?.a).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ message: 'a number is out of range' }],
    });
    const query = await run(failing, '{ find(id: "0190a000-0000-7000-8000-000000000001") { text } }');
    expect(query.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const broken = schemaFor(() => {
      throw Object.assign(new Error('connection lost'), { code: '08006' });
    });
    const unexpected = await run(broken, SAVE, { t: 'x' });
    expect(unexpected.errors?.[0]?.message).toBe('connection lost');
  });

  it('knows which database errors the input caused', () => {
    expect(inputIssueOf({ code: '22P02' })).toMatch(/not of the expected kind/);
    expect(inputIssueOf({ code: '2201B' })).toMatch(/regular expression/);
    expect(inputIssueOf({ code: '54001' })).toMatch(/too complex/);
    expect(inputIssueOf({ code: '23505' })).toBeUndefined();
    expect(inputIssueOf(new Error('no code'))).toBeUndefined();
  });
});
