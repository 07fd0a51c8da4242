import { anonymousContext, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import { describe, expect, it } from 'vitest';
import { addressKey, budgetOf, clientAddress } from './rate-limits.ts';

const request = (peer: string, forwardedFor?: string) => ({
  headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  raw: { socket: { remoteAddress: peer } } as never,
});

const settings = { anonymousPerMinute: 300, authenticatedPerMinute: 6_000, trustedProxies: 0 };

describe('whose budget a request spends', () => {
  it('takes the client address from the socket, or from the trusted proxies it passed through', () => {
    expect(clientAddress(request('10.0.0.5', '203.0.113.9'), 0)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', '203.0.113.9'), 1)).toBe('203.0.113.9');
    // Whatever the client wrote itself sits left of what the proxies appended.
    expect(clientAddress(request('10.0.0.5', 'spoofed, 203.0.113.9'), 1)).toBe('203.0.113.9');
    expect(clientAddress(request('10.0.0.5', 'spoofed, 203.0.113.9, 10.0.0.4'), 2)).toBe('203.0.113.9');
    // Fewer hops than configured: the leftmost address there is.
    expect(clientAddress(request('10.0.0.5'), 2)).toBe('10.0.0.5');
  });

  it('keys IPv4 addresses whole and IPv6 ones by their /64', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0db8:0000:0001:ffff:0:0:2')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1:ffff:0:0:2')).toBe('2001:db8:0:1::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });

  it('charges users per user and organization, API keys per key, everyone else per address', () => {
    const org = '0190a000-0000-7000-8000-000000000001' as OrganizationId;
    const user: RequestContext = {
      correlationId: 'c',
      actor: { type: 'user', id: 'u1' },
      organizationId: org,
      scopes: [],
    };
    const key: RequestContext = {
      correlationId: 'c',
      actor: { type: 'api_key', id: 'k1', createdBy: 'u1' },
      organizationId: org,
      scopes: [],
    };
    expect(budgetOf(user, '10.0.0.5', settings)).toEqual({ key: `user:${org}:u1`, perMinute: 6_000 });
    expect(budgetOf(key, '10.0.0.5', settings)).toEqual({ key: 'key:k1', perMinute: 6_000 });
    expect(budgetOf(anonymousContext('c'), '10.0.0.5', settings)).toEqual({ key: 'ip:10.0.0.5', perMinute: 300 });
    expect(budgetOf(undefined, '2001:db8::1', settings)).toEqual({ key: 'ip:2001:db8:0:0::/64', perMinute: 300 });
  });
});
