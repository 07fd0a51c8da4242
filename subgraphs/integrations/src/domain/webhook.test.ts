import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { outcomeOf, retryDelayMs, shouldDisable, signatureHeader, wantsEvent } from './webhook.ts';

describe('webhook rules', () => {
  it('signs "<t>.<body>" with every valid secret', () => {
    const header = signatureHeader(['a', 'b'], 1700000000, '{"x":1}');
    const hmac = (k: string) => createHmac('sha256', k).update('1700000000.{"x":1}').digest('hex');
    expect(header).toBe(`t=1700000000,v1=${hmac('a')},v1=${hmac('b')}`);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(retryDelayMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(retryDelayMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(retryDelayMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(retryDelayMs(30, 1000, 60_000, () => 1)).toBe(60_000);
  });

  it('matches subscribed types and filters only events that name a segment or template', () => {
    const endpoint = {
      eventTypes: ['crm.segment.entered', 'crm.contact.created'],
      segmentIds: ['s1'],
      templateIds: [],
    };
    expect(wantsEvent(endpoint, { type: 'crm.segment.entered', data: { segmentId: 's1' } })).toBe(true);
    expect(wantsEvent(endpoint, { type: 'crm.segment.entered', data: { segmentId: 's2' } })).toBe(false);
    expect(wantsEvent(endpoint, { type: 'crm.contact.created', data: {} })).toBe(true);
    expect(wantsEvent(endpoint, { type: 'crm.contact.deleted', data: {} })).toBe(false);
  });

  it('treats 2xx as success, 410 as gone and anything else (a redirect too) as failure', () => {
    expect(outcomeOf(204).kind).toBe('succeeded');
    expect(outcomeOf(410).kind).toBe('gone');
    expect(outcomeOf(302).kind).toBe('failed');
    expect(outcomeOf(null).kind).toBe('failed');
  });

  it('disables only after enough failures over long enough', () => {
    const since = new Date('2026-01-01T00:00:00Z');
    const policy = { failures: 5, forMs: 3600_000 };
    expect(shouldDisable(5, since, new Date('2026-01-01T00:30:00Z'), policy)).toBe(false);
    expect(shouldDisable(4, since, new Date('2026-01-01T02:00:00Z'), policy)).toBe(false);
    expect(shouldDisable(5, since, new Date('2026-01-01T01:00:00Z'), policy)).toBe(true);
  });
});
