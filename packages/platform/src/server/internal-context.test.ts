import type { RequestContext } from '@mauntic/kernel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidInternalContextError,
  secretKey,
  signInternalContext,
  verifyInternalContext,
} from './internal-context.ts';

const key = secretKey('k'.repeat(32));
const ctx: RequestContext = {
  correlationId: 'c-1',
  actor: { type: 'user', id: 'u-1' },
  organizationId: '01900000-0000-7000-8000-000000000001' as RequestContext['organizationId'],
  role: 'editor',
  scopes: ['*:read', '*:write'],
};

afterEach(() => {
  vi.useRealTimers();
});

describe('signed internal context', () => {
  it('round-trips the caller', () => {
    expect(verifyInternalContext(signInternalContext(ctx, key), key)).toEqual(ctx);
  });

  it('rejects a missing, malformed, tampered or foreign-keyed token', () => {
    const token = signInternalContext(ctx, key);
    expect(() => verifyInternalContext(undefined, key)).toThrow(InvalidInternalContextError);
    expect(() => verifyInternalContext('v1.abc', key)).toThrow(/malformed/);
    const [p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${Buffer.from(JSON.stringify({ ...claims, org: 'another-org' })).toString('base64url')}.${s}`;
    expect(() => verifyInternalContext(tampered, key)).toThrow(/bad signature/);
    expect(() => verifyInternalContext(token, secretKey('x'.repeat(32)))).toThrow(/bad signature/);
  });

  it('rejects a token past its expiry', () => {
    const token = signInternalContext(ctx, key);
    vi.useFakeTimers();
    vi.setSystemTime(Date.now() + 61_000);
    expect(() => verifyInternalContext(token, key)).toThrow(/expired/);
  });
});
