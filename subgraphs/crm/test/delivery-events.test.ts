// CRM consuming delivery's events through a real bus: the timeline, behavioural segments and
// do-not-contact follow, and a redelivered event changes nothing.
import { catalogue, createEvent, type EventEnvelope, newId, unwrap } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { activities } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm, withKafkaCrm } from './harness.ts';

const logger = createLogger('test', 'silent');

function deliveryEvent<K extends keyof typeof catalogue.delivery>(
  kind: K,
  org: string,
  contact: { id: string | null; address: string },
  extra: Record<string, unknown> = {},
  templateId: string | null = null,
): EventEnvelope {
  const def = catalogue.delivery[kind];
  return createEvent(def as never, {
    organizationId: org,
    subjectId: contact.id ?? contact.address,
    correlationId: newId(),
    data: {
      messageId: newId(),
      contactId: contact.id,
      channel: 'email',
      address: contact.address,
      templateId,
      source: { kind: 'campaign', id: 'spring', stepId: null },
      ...extra,
    },
  });
}

describe.each(DATABASES)('delivery events into CRM (%s, local bus)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  let bus: LocalEventBus;
  beforeAll(async () => {
    crm = await openCrm(open);
    bus = new LocalEventBus({ logger });
    for (const subscription of crm.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
  });
  afterAll(async () => {
    await bus?.stop();
    await crm?.close();
  });

  it('records sends, counts human opens only, and turns hard bounces, complaints and unsubscribes into do-not-contact', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const template = newId();
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const bob = unwrap(await s.createContact(ctx, { email: 'Bob@Example.com' }));
    const carol = unwrap(await s.createContact(ctx, { email: 'carol@example.com' }));
    const openers = unwrap(
      await s.createSegment(ctx, { name: 'opened', filter: { behavior: { type: 'email.opened', subject: template } } }),
    );
    const mailable = unwrap(
      await s.createSegment(ctx, { name: 'mailable', filter: { not: { dnc: { channel: 'email' } } } }),
    );
    for (const seg of [openers, mailable]) unwrap(await s.rebuildSegment(ctx, seg.id));
    const at = (c: { id: string; email: string | null }) => ({ id: c.id, address: c.email! });

    await bus.publish([deliveryEvent('messageSent', org, at(ada), {}, template)]);
    await bus.publish([deliveryEvent('messageOpened', org, at(ada), { machine: true }, template)]);
    expect(unwrap(await s.getSegment(ctx, openers.id))?.memberCount).toBe(0);
    await bus.publish([deliveryEvent('messageOpened', org, at(ada), { machine: false }, template)]);
    expect(unwrap(await s.getSegment(ctx, openers.id))?.memberCount).toBe(1);
    await bus.publish([
      deliveryEvent('messageClicked', org, at(ada), { machine: false, url: 'https://example.com/x' }, template),
    ]);

    const bounce = deliveryEvent('messageBounced', org, at(ada), {
      bounceType: 'hard',
      reason: '550 5.1.1 no such user',
    });
    await bus.publish([bounce]);
    await bus.publish([bounce]); // redelivered
    // Bob's complaint arrives for a bare address, in another case.
    await bus.publish([
      deliveryEvent('messageComplained', org, { id: null, address: 'bob@example.com' }, { feedbackType: 'abuse' }),
    ]);
    await bus.publish([
      deliveryEvent('messageBounced', org, at(carol), { bounceType: 'soft', reason: '452 mailbox full' }),
    ]);
    await bus.publish([deliveryEvent('messageUnsubscribed', org, at(carol), { oneClick: true })]);

    expect(await s.dncOf(org, ada.id)).toMatchObject([
      {
        channel: 'email',
        reason: 'bounced',
        source: `delivery:${bounce.data && (bounce.data as { messageId: string }).messageId}`,
      },
    ]);
    expect(await s.dncOf(org, bob.id)).toMatchObject([{ channel: 'email', reason: 'complaint' }]);
    expect(await s.dncOf(org, carol.id)).toMatchObject([{ channel: 'email', reason: 'unsubscribed' }]);
    expect(unwrap(await s.getSegment(ctx, mailable.id))?.memberCount).toBe(0);

    const adaActivity = await crm.handle.db
      .select({ type: activities.type })
      .from(activities)
      .where(and(eq(activities.organizationId, org), eq(activities.contactId, ada.id)));
    const types = adaActivity.map((a) => a.type).sort();
    expect(types.filter((t) => t.startsWith('email.'))).toEqual([
      'email.bounced',
      'email.clicked',
      'email.opened',
      'email.opened.machine',
      'email.sent',
    ]);
    expect(unwrap(await s.getContact(ctx, ada.id))?.lastActiveAt).not.toBeNull();
  });
});

describe('delivery events into CRM (postgres, Kafka)', () => {
  it('applies an unsubscribe published on the real broker', async () => {
    await withKafkaCrm(async (crm, consumer) => {
      const ctx = newOrg();
      const ada = unwrap(await crm.services.createContact(ctx, { email: 'ada@example.com' }));
      await consumer.publish([
        deliveryEvent(
          'messageUnsubscribed',
          ctx.organizationId,
          { id: ada.id, address: 'ada@example.com' },
          { oneClick: true },
        ),
      ]);
      await vi.waitFor(
        async () =>
          expect(await crm.services.dncOf(ctx.organizationId, ada.id)).toMatchObject([{ reason: 'unsubscribed' }]),
        {
          timeout: 20_000,
          interval: 100,
        },
      );
    });
  });
});
