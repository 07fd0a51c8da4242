import { randomBytes } from 'node:crypto';
import type { Result } from '@mauntic/kernel';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type InvalidSignedTokenError, signedTokens } from './signed-token.ts';

const key = randomBytes(32);
const schema = z.object({ org: z.string(), n: z.number().optional() });
const exportLinks = signedTokens({ purpose: 'test.export.v1', keys: key, schema });

const reason = (result: Result<unknown, InvalidSignedTokenError>) => (result.ok ? 'ok' : result.error.reason);

describe('signed tokens', () => {
  it('gives back the claims it signed', () => {
    const verified = exportLinks.verify(exportLinks.sign({ org: 'o1', n: 3 }));
    expect(verified).toEqual({ ok: true, value: { org: 'o1', n: 3 } });
  });

  it('refuses a token signed for another purpose with the same key', () => {
    const other = signedTokens({ purpose: 'test.tracking.v1', keys: key, schema });
    expect(reason(exportLinks.verify(other.sign({ org: 'o1' })))).toBe('bad_signature');
  });

  it('refuses a token whose claims or signature changed by one character', () => {
    const token = exportLinks.sign({ org: 'o1' });
    const [payload, mac] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ org: 'o2' })).toString('base64url');
    expect(reason(exportLinks.verify(`${forged}.${mac}`))).toBe('bad_signature');
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    expect(reason(exportLinks.verify(`${payload}.${flipped}`))).toBe('bad_signature');
  });

  it('refuses a token signed with a key it does not hold, and accepts any key while one rotates', () => {
    const oldKey = randomBytes(32);
    const token = signedTokens({ purpose: 'test.export.v1', keys: oldKey, schema }).sign({ org: 'o1' });
    expect(reason(exportLinks.verify(token))).toBe('bad_signature');
    const rotating = signedTokens({ purpose: 'test.export.v1', keys: [key, oldKey], schema });
    expect(reason(rotating.verify(token))).toBe('ok');
    expect(reason(exportLinks.verify(rotating.sign({ org: 'o1' })))).toBe('ok');
  });

  it('refuses an expired token and accepts it before then', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const token = exportLinks.sign({ org: 'o1' }, { expiresAt: new Date(now.getTime() + 60_000) });
    expect(reason(exportLinks.verify(token, now))).toBe('ok');
    expect(reason(exportLinks.verify(token, new Date(now.getTime() + 60_000)))).toBe('expired');
  });

  it('refuses signed claims its schema does not accept', () => {
    const loose = signedTokens({ purpose: 'test.export.v1', keys: key, schema: z.object({ org: z.number() }) });
    expect(reason(loose.verify(exportLinks.sign({ org: 'o1' })))).toBe('bad_claims');
  });

  it('calls missing, oversized or badly shaped tokens malformed', () => {
    for (const token of [undefined, '', 'abc', '.abc', 'a.b.c', `${'a'.repeat(5000)}.${'b'.repeat(43)}`, 'a!.b'])
      expect(reason(exportLinks.verify(token))).toBe('malformed');
  });

  it('refuses keys shorter than 32 bytes', () => {
    expect(() => signedTokens({ purpose: 'p', keys: 'short', schema })).toThrow(/32 bytes/);
  });
});
