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

describe('delivery events for journeys', () => {
  it('carry templates keyed by themselves with their channel and name', () => {
    const template = '01900000-0000-7000-8000-000000000003';
    for (const def of [
      catalogue.delivery.templateCreated,
      catalogue.delivery.templateUpdated,
      catalogue.delivery.templateDeleted,
    ]) {
      const event = createEvent(def, {
        organizationId: org,
        subjectId: template,
        correlationId: 'c',
        data: { channel: 'webhook', name: 'CRM hook' },
      });
      expect(event.subject).toEqual({ type: 'template', id: template });
      expect(parseEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
      expect(() => parseEvent({ ...event, data: { channel: 'fax', name: 'x' } })).toThrow(/invalid/);
    }
  });

  it('take a webhook send request, and a failure without an address for a request that had none', () => {
    const contact = '01900000-0000-7000-8000-000000000004';
    const requested = createEvent(catalogue.delivery.messageRequested, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: {
        channel: 'webhook',
        templateId: message,
        contactId: contact,
        address: null,
        context: {},
        idempotencyKey: 'journey:r:s:1',
        source: { kind: 'journey', id: 'j', stepId: 's' },
      },
    });
    expect(parseEvent(JSON.parse(JSON.stringify(requested)))).toEqual(requested);
    const failed = createEvent(catalogue.delivery.messageFailed, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: {
        messageId: message,
        contactId: contact,
        channel: 'email',
        address: '',
        templateId: message,
        source: { kind: 'journey', id: 'j', stepId: 's' },
        reason: 'no_address',
        detail: 'the contact has no email address',
      },
    });
    expect(parseEvent(JSON.parse(JSON.stringify(failed)))).toEqual(failed);
    expect(() => parseEvent({ ...requested, data: { ...requested.data, channel: 'fax' } })).toThrow(/invalid/);
  });
});
