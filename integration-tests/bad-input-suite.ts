// Bad input found by trying the platform as a hostile user would: each case answers with a typed
// error or BAD_USER_INPUT, never an internal error, and leaves nothing half-written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, type Platform, type PlatformFactory } from './harness.ts';
import { signUp } from './identity-suite.ts';

export function badInputSuite(name: string, start: PlatformFactory) {
  describe(`bad input (${name})`, () => {
    let platform: Platform;
    let token: string;
    let contactId: string;
    beforeAll(async () => {
      platform = await start();
      token = (await signUp(platform.url, 'bad-input')).session.accessToken;
      const created = await gql(
        platform.url,
        'mutation { createContact(input: { email: "points@example.com" }) { ... on Contact { id } } }',
        {},
        { token },
      );
      contactId = created.data?.createContact.id;
    });
    afterAll(() => platform?.stop());

    it('answers each of 100 aliased point adjustments on its own: those that would overflow are refused, the rest applied', async () => {
      const step = 1_000_000; // the largest adjustment; 2^31 - 1 points hold 2,147 of them
      const adjust = async () => {
        const aliases = Array.from(
          { length: 100 },
          (_, i) =>
            `a${i}: adjustPoints(input: { contactId: $id, delta: ${step} }) { __typename ... on Contact { points } ... on Error { code } }`,
        );
        const result = await gql(
          platform.url,
          `mutation($id: ID!) { ${aliases.join('\n')} }`,
          { id: contactId },
          { token },
        );
        expect(result.status).toBe(200);
        expect(result.errors).toBeUndefined();
        const answers = Object.values(result.data ?? {}) as { __typename: string }[];
        expect(answers).toHaveLength(100);
        return answers.filter((a) => a.__typename === 'Contact').length;
      };
      for (let i = 0; i < 21; i++) expect(await adjust()).toBe(100);
      // 2,100 applied: 47 more fit, the other 53 each get their own ValidationError.
      expect(await adjust()).toBe(47);
      const contact = await gql(
        platform.url,
        'query($id: ID!) { contact(id: $id) { points } }',
        { id: contactId },
        { token },
      );
      expect(contact.data?.contact.points).toBe(2_147 * step);
    }, 300_000);

    it('answers a timeline cursor that is not one with BAD_USER_INPUT, whether or not it decodes', async () => {
      const encoded = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      for (const after of [
        '!!!',
        Buffer.from('-'.repeat(36)).toString('base64url'),
        'AA',
        // JSON, but not a timeline position: a number, a day that does not exist, a contacts cursor.
        encoded(5),
        encoded(['2026-02-30T00:00:00.000000Z', contactId]),
        encoded(['ada@example.com', contactId]),
      ]) {
        const result = await gql(
          platform.url,
          'query($id: ID!, $after: String) { contact(id: $id) { timeline(after: $after) { hasNextPage } } }',
          { id: contactId, after },
          { token },
        );
        expect(result.errors?.[0]?.extensions?.code, after).toBe('BAD_USER_INPUT');
      }
    });

    it('takes JSON written inline in the query as it takes the same JSON in a variable', async () => {
      const segment = await gql(
        platform.url,
        'mutation { createSegment(input: { name: "inline", filter: { tags: { op: "includesAny", value: ["vip"] } } }) { __typename ... on Segment { filter } } }',
        {},
        { token },
      );
      expect(segment.errors).toBeUndefined();
      expect(segment.data?.createSegment).toEqual({
        __typename: 'Segment',
        filter: { tags: { op: 'includesAny', value: ['vip'] } },
      });
    });
  });
}
