import { describe, expect, it } from 'vitest';
import { catalogue, parseEvent } from '../events/catalogue.ts';
import { createEvent } from '../events/envelope.ts';

const org = '01900000-0000-7000-8000-000000000001';
const message = '01900000-0000-7000-8000-000000000002';

describe('delivery.suppression events', () => {
  it('carry one list entry, keyed by channel and address, and parse back unchanged', () => {
    const added = createEvent(catalogue.delivery.suppressionAdded, {
      organizationId: org,
      subjectId: 'email:ada@example.com',
      correlationId: message,
      data: {
        channel: 'email',
        address: 'ada@example.com',
        reason: 'hard_bounce',
        source: 'inbound-smtp',
        messageId: message,
      },
    });
    expect(added).toMatchObject({
      type: 'delivery.suppression.added',
      version: 1,
      subject: { type: 'suppression', id: 'email:ada@example.com' },
    });
    expect(parseEvent(JSON.parse(JSON.stringify(added)))).toEqual(added);

    const removed = createEvent(catalogue.delivery.suppressionRemoved, {
      organizationId: org,
      subjectId: 'sms:+15550100',
      correlationId: 'req-1',
      data: { channel: 'sms', address: '+15550100', reason: 'manual', messageId: null },
    });
    expect(parseEvent(JSON.parse(JSON.stringify(removed)))).toEqual(removed);
  });

  it('refuse an unknown channel or reason, and a missing message id', () => {
    const good = createEvent(catalogue.delivery.suppressionAdded, {
      organizationId: org,
      subjectId: 'email:a@example.com',
      correlationId: 'c',
      data: { channel: 'email', address: 'a@example.com', reason: 'manual', source: null, messageId: null },
    });
    expect(() => parseEvent({ ...good, data: { ...good.data, channel: 'push' } })).toThrow(
      /invalid delivery.suppression.added v1 data/,
    );
    expect(() => parseEvent({ ...good, data: { ...good.data, reason: 'bored' } })).toThrow(/invalid/);
    const { messageId: _, ...withoutMessage } = good.data;
    expect(() => parseEvent({ ...good, type: 'delivery.suppression.removed', data: withoutMessage })).toThrow(
      /invalid delivery.suppression.removed v1 data/,
    );
  });
});
