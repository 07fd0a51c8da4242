// A dynamic segment's members are counted in the background: until they are, the graph says it
// is building rather than answering a count of 0.
import { unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DATABASES, newOrg, openCrm, runGraphql } from './harness.ts';

const SEGMENT_FIELDS = '__typename ... on Segment { id building contactCount } ... on Error { code }';
const CREATE = `mutation($f: JSON, $kind: SegmentKind) { createSegment(input: { name: "s", kind: $kind, filter: $f }) { ${SEGMENT_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $f: JSON) { updateSegment(input: { id: $id, filter: $f }) { ${SEGMENT_FIELDS} } }`;
const READ = 'query($id: ID!) { segment(id: $id) { building contactCount } }';

describe.each(DATABASES)('a segment while it is built (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  it('answers building instead of a count until the members are counted, and again after its filter changes', async () => {
    const ctx = newOrg();
    const run = (query: string, variables: Record<string, unknown>) => runGraphql(crm.services, ctx, query, variables);
    unwrap(await crm.services.createField(ctx, { entity: 'contact', key: 'plan', label: 'Plan', type: 'text' }));
    for (const [email, plan] of [
      ['a@example.com', 'pro'],
      ['b@example.com', 'pro'],
      ['c@example.com', 'free'],
    ])
      unwrap(await crm.services.createContact(ctx, { email, fields: { plan } }));
    const plan = (value: string) => ({ field: 'fields.plan', op: 'eq', value });
    const settled = async (id: string, contactCount: number) =>
      vi.waitFor(
        async () => expect((await run(READ, { id })).data?.segment).toEqual({ building: false, contactCount }),
        {
          timeout: 10_000,
          interval: 50,
        },
      );

    const created = (await run(CREATE, { f: plan('pro') })).data?.createSegment;
    expect(created).toMatchObject({ __typename: 'Segment', building: true, contactCount: null });
    await settled(created.id, 2);

    const updated = (await run(UPDATE, { id: created.id, f: plan('free') })).data?.updateSegment;
    expect(updated).toMatchObject({ __typename: 'Segment', building: true, contactCount: null });
    await settled(created.id, 1);

    const chosen = (await run(CREATE, { kind: 'STATIC' })).data?.createSegment;
    expect(chosen).toMatchObject({ __typename: 'Segment', building: false, contactCount: 0 });
  });
});
