import type { RequestContext } from '@mauntic/kernel';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { InvalidInternalContextError, secretKey, signInternalContext, verifyInternalContext } from './internal-context';

const key = secretKey('k'.repeat(32));
const ctx: RequestContext = {
  correlationId: 'c-1',
  actor: { type: 'user', id: 'u-1' },
  organizationId: '01900000-0000-7000-8000-000000000001' as RequestContext['organizationId'],
  role: 'editor',
  scopes: ['*:read', '*:write'],
};

describe('signed internal context', () => {
  it('round-trips the caller', async () => {
    expect(await verifyInternalContext(await signInternalContext(ctx, key), key)).toEqual(ctx);
  });

  it('rejects a missing, tampered, foreign-keyed or expired token', async () => {
    const token = await signInternalContext(ctx, key);
    await expect(verifyInternalContext(undefined, key)).rejects.toBeInstanceOf(InvalidInternalContextError);
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), org: 'other' })).toString('base64url')}.${s}`;
    await expect(verifyInternalContext(tampered, key)).rejects.toThrow(/signature/);
    await expect(verifyInternalContext(token, secretKey('x'.repeat(32)))).rejects.toBeInstanceOf(
      InvalidInternalContextError,
    );
    const expired = await new SignJWT({ cid: 'c', act: { type: 'anonymous' }, scp: [] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('mauntic-gateway')
      .setAudience('mauntic-subgraph')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(key);
    await expect(verifyInternalContext(expired, key)).rejects.toThrow(/exp/);
  });
});
