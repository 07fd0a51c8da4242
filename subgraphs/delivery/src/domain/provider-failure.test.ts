import { describe, expect, it } from 'vitest';
import { CONNECTION_FAILED, tenantVisibleError } from './provider-failure.ts';

const generic = `provider_error: ${CONNECTION_FAILED}`;

describe('tenantVisibleError', () => {
  it('hides how a connection to the provider failed: addresses, ports, socket errors, handshake stage', () => {
    for (const stored of [
      'provider_error: SMTP CONN: connect ECONNREFUSED 127.0.0.1:1',
      'provider_error: SMTP CONN: connect EHOSTUNREACH 10.0.0.5:25 - Local (0.0.0.0:0)',
      'provider_error: SMTP CONN: connect ETIMEDOUT 203.0.113.9:587',
      'provider_error: SMTP CONN: connect ECONNREFUSED ::1:2525',
      'provider_error: SMTP CONN: getaddrinfo ENOTFOUND relay.internal',
      'provider_error: SMTP CONN: Connection timeout',
      'provider_error: SMTP CONN: Greeting never received',
      'provider_error: SMTP CONN: Invalid greeting. response=-ERR unknown command: -ERR unknown command',
      'provider_error: SMTP CONN: Connection closed unexpectedly',
      'provider_error: network error: fetch failed',
      'provider_error: network error: connect ECONNREFUSED [fd00:ec2::254]:80',
      'provider_error: SMTP CONN: relay.test (127.0.0.1) is a loopback address, which outbound connections may not reach',
    ])
      expect(tenantVisibleError(stored), stored).toBe(generic);
  });

  it('keeps what a provider that was reached answered, and every other kind of failure', () => {
    for (const stored of [
      'provider_error: SMTP RCPT TO: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown',
      'provider_error: SMTP AUTH: Invalid login: 535 5.7.8 Error: authentication failed',
      'provider_error: HTTP 401: {"errors":[{"message":"The provided authorization grant is invalid"}]}',
      'provider_error: HTTP 429: rate limited, retry at 12:30:05',
      'suppressed: unsubscribe',
      'no_provider: no default provider for this channel',
      // A bounce is the recipient's server talking, addresses included: not ours to hide.
      '5.1.1 host mx.example.com[93.184.216.34] said: 550 5.1.1 user unknown',
    ])
      expect(tenantVisibleError(stored), stored).toBe(stored);
    expect(tenantVisibleError(null)).toBeNull();
  });
});
