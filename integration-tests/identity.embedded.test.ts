import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gql, STRONG_PASSWORD, startEmbeddedPlatform } from './harness.ts';
import { identitySuite, signUp } from './identity-suite.ts';

identitySuite('embedded: PGlite, local bus and queue, in-process subgraphs', startEmbeddedPlatform);

describe('embedded mode', () => {
  it('keeps data across a restart, and refuses a second process on the same data folder', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mauntic-restart-'));
    const first = await startEmbeddedPlatform({ DATA_DIR: dataDir });
    const { email, session } = await signUp(first.url, 'durable');
    await expect(startEmbeddedPlatform({ DATA_DIR: dataDir })).rejects.toThrow(/in use by process/);
    await first.stop();

    const second = await startEmbeddedPlatform({ DATA_DIR: dataDir });
    try {
      const login = await gql(
        second.url,
        'mutation($e: EmailAddress!, $p: String!) { logIn(input: { email: $e, password: $p }) { __typename ... on Session { organization { id } } } }',
        {
          e: email,
          p: STRONG_PASSWORD,
        },
      );
      expect(login.data?.logIn).toEqual({ __typename: 'Session', organization: { id: session.organization.id } });
      // The signing secrets were kept too: the access token from before the restart still works.
      const me = await gql(second.url, '{ me { user { email } } }', {}, { token: session.accessToken });
      expect(me.data?.me.user.email).toBe(email);
    } finally {
      await second.stop();
    }
  });
});
