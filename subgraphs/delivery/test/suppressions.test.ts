// Every change to the suppression list publishes one event, written in the change's transaction:
// by hand (addSuppression, removeSuppression), from feedback (hard bounces, complaints), from the
// recipient (one-click unsubscribe, the preference page). A change that changes nothing publishes
// nothing.
import { newId, unwrap } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../src/tracking/index.ts';
import { DATABASES, newOrg, openDelivery } from './harness.ts';

type Org = ReturnType<typeof newOrg>;

describe.each(DATABASES)('suppression events (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  beforeAll(async () => {
    env = await openDelivery(open);
  });
  afterAll(() => env?.close());

  const suppressionEvents = async (organizationId: string) =>
    env.handle.rows<{ type: string; subject: { type: string; id: string }; data: Record<string, unknown> }>(
      sql`select type, envelope->'subject' as subject, envelope->'data' as data from delivery.outbox
          where organization_id = ${organizationId} and type like 'delivery.suppression.%' order by seq`,
    );

  /** A message to `to` (queued; feedback and tokens only need the row). */
  async function messageTo(ctx: Org, to: string) {
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: `t-${newId()}`,
        channel: 'email',
        category: 'marketing',
        source: {
          mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>',
          subject: 'Hi',
        },
      }),
    );
    return unwrap(
      await env.services.sendMessage(ctx, 'email', { templateId: template.id, to, idempotencyKey: newId() }),
    );
  }

  it('adding and removing by hand write one event each; repeating either writes none', async () => {
    const ctx = newOrg();
    const entry = { channel: 'email', address: 'Ada@Example.com' } as const;
    unwrap(await env.services.addSuppression(ctx, { ...entry, reason: 'manual', source: 'support ticket 7' }));
    unwrap(await env.services.addSuppression(ctx, { ...entry, reason: 'manual' }));
    // An unsubscribe is weaker than what is there: nothing changes.
    unwrap(await env.services.addSuppression(ctx, { ...entry, reason: 'unsubscribe' }));
    expect(await suppressionEvents(ctx.organizationId)).toEqual([
      {
        type: 'delivery.suppression.added',
        subject: { type: 'suppression', id: 'email:ada@example.com' },
        data: {
          channel: 'email',
          address: 'ada@example.com',
          reason: 'manual',
          source: 'support ticket 7',
          messageId: null,
        },
      },
    ]);

    unwrap(await env.services.removeSuppression(ctx, entry));
    const again = await env.services.removeSuppression(ctx, entry);
    expect(again.ok).toBe(false);
    const events = await suppressionEvents(ctx.organizationId);
    expect(events.map((e) => e.type)).toEqual(['delivery.suppression.added', 'delivery.suppression.removed']);
    expect(events[1]).toMatchObject({
      subject: { id: 'email:ada@example.com' },
      data: { channel: 'email', address: 'ada@example.com', reason: 'manual', messageId: null },
    });
  });

  it('a stronger reason replacing an unsubscribe is one change; an SMS number is an entry of its own', async () => {
    const ctx = newOrg();
    unwrap(await env.services.addSuppression(ctx, { channel: 'sms', address: '+15550100', reason: 'unsubscribe' }));
    unwrap(await env.services.addSuppression(ctx, { channel: 'sms', address: '+15550100', reason: 'unsubscribe' }));
    unwrap(await env.services.addSuppression(ctx, { channel: 'sms', address: '+15550100', reason: 'complaint' }));
    unwrap(await env.services.addSuppression(ctx, { channel: 'sms', address: '+15550100', reason: 'hard_bounce' }));
    expect((await suppressionEvents(ctx.organizationId)).map((e) => [e.subject.id, e.data.reason])).toEqual([
      ['sms:+15550100', 'unsubscribe'],
      ['sms:+15550100', 'complaint'],
    ]);
  });

  it('a hard bounce and a complaint each add one, naming the message; a second report adds none', async () => {
    const ctx = newOrg();
    const bounced = await messageTo(ctx, 'bounce@example.com');
    const bounce = {
      kind: 'bounce',
      bounceType: 'hard',
      recipient: 'bounce@example.com',
      messageId: bounced.id,
      status: '5.1.1',
    } as const;
    expect(await env.services.applyFeedback(bounce, { source: 'inbound-smtp' })).toBe('applied');
    expect(await env.services.applyFeedback(bounce, { source: 'inbound-smtp' })).toBe('applied');
    // A soft bounce does not touch the list.
    const soft = await messageTo(ctx, 'soft@example.com');
    await env.services.applyFeedback(
      { kind: 'bounce', bounceType: 'soft', recipient: 'soft@example.com', messageId: soft.id },
      { source: 'inbound-smtp' },
    );
    const complained = await messageTo(ctx, 'complaint@example.com');
    await env.services.applyFeedback(
      { kind: 'complaint', feedbackType: 'abuse', recipient: 'complaint@example.com', messageId: complained.id },
      { organizationId: ctx.organizationId, source: 'webhook:mailgun' },
    );
    expect((await suppressionEvents(ctx.organizationId)).map((e) => e.data)).toEqual([
      {
        channel: 'email',
        address: 'bounce@example.com',
        reason: 'hard_bounce',
        source: 'inbound-smtp',
        messageId: bounced.id,
      },
      {
        channel: 'email',
        address: 'complaint@example.com',
        reason: 'complaint',
        source: 'webhook:mailgun',
        messageId: complained.id,
      },
    ]);
  });

  it('an unsubscribe adds one, a repeated one none; resubscribing removes it with one event', async () => {
    const ctx = newOrg();
    const message = await messageTo(ctx, 'reader@example.com');
    const token = signToken({ k: 'u', m: message.id, o: ctx.organizationId }, env.keys.trackingKey);
    expect(await env.services.unsubscribe(token, true)).not.toBeNull();
    expect(await env.services.unsubscribe(token, false)).not.toBeNull();
    expect(await env.services.resubscribe(token)).toBe(true);
    expect(await env.services.resubscribe(token)).toBe(false);
    expect(await suppressionEvents(ctx.organizationId)).toEqual([
      {
        type: 'delivery.suppression.added',
        subject: { type: 'suppression', id: 'email:reader@example.com' },
        data: {
          channel: 'email',
          address: 'reader@example.com',
          reason: 'unsubscribe',
          source: 'one-click',
          messageId: message.id,
        },
      },
      {
        type: 'delivery.suppression.removed',
        subject: { type: 'suppression', id: 'email:reader@example.com' },
        data: { channel: 'email', address: 'reader@example.com', reason: 'unsubscribe', messageId: message.id },
      },
    ]);
  });
});
