import { describe, expect, it } from 'vitest';
import { correctedTimestamp, readCalls } from './segment.ts';

const at = new Date('2026-01-01T00:00:10.000Z');
const read = (path: string, value: unknown) =>
  readCalls(path, Buffer.from(JSON.stringify(value)), at, () => 'generated');

describe('Segment calls', () => {
  it('takes the sender clock out of the timestamp only when sentAt says how far off it is', () => {
    expect(correctedTimestamp(at).toISOString()).toBe(at.toISOString());
    expect(correctedTimestamp(at, '2025-12-31T23:00:00.000Z').toISOString()).toBe('2025-12-31T23:00:00.000Z');
    expect(correctedTimestamp(at, '2026-01-01T05:00:00.000Z', '2026-01-01T05:00:08.000Z').toISOString()).toBe(
      '2026-01-01T00:00:02.000Z',
    );
  });

  it("reads a single call's type from its path and a batch's from each message, with the batch's sentAt", () => {
    const single = read('page', { anonymousId: 7, name: 'Home' });
    expect(single).toMatchObject({ ok: true, calls: [{ call: 'page', anonymousId: '7', messageId: 'generated' }] });
    const batch = read('batch', {
      sentAt: '2026-01-01T00:01:10.000Z',
      batch: [{ type: 'track', userId: 'u', event: 'E', timestamp: '2026-01-01T00:01:00.000Z', messageId: 'm' }],
    });
    expect(batch).toMatchObject({
      ok: true,
      calls: [{ call: 'track', messageId: 'm', timestamp: '2026-01-01T00:00:00.000Z' }],
    });
  });

  it('refuses paths that are not calls, and calls without what their type needs', () => {
    expect(read('delete', { userId: 'u' })).toMatchObject({ ok: false, error: { status: 400 } });
    expect(read('group', { userId: 'u' })).toMatchObject({
      ok: false,
      error: { message: 'groupId: is required for group' },
    });
    expect(read('alias', { previousId: 'p', anonymousId: 'a' })).toMatchObject({ ok: false });
    expect(read('track', { userId: 'u', event: 'E', timestamp: 'yesterday' })).toMatchObject({ ok: false });
  });
});
