// Send requests from the bus (what journeys and campaigns publish): one message per idempotency key
// (a push: one per device of the contact) however often a request arrives, and an outcome for every
// request: a message that cannot be sent ends skipped or failed with delivery.message.failed and its
// reason, and a request for a contact delivery has not heard of waits for it, a while.
import { catalogue, createEvent, type EventEnvelope, newId, parseEvent, unwrap } from '@mauntic/kernel';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { deviceKey } from '../src/app/send.ts';
import { applyNotificationRequest, applySendRequest, applySendRequests } from '../src/app/send-requests.ts';
import { messages, outbox, pendingRequests } from '../src/db/schema.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type HttpFake, startHttpFake } from './fakes/http-fake.ts';
import { newOrg, OWN_DATABASES, openDelivery, seedContact } from './harness.ts';

type Org = ReturnType<typeof newOrg>;
type Channel = 'email' | 'sms' | 'push' | 'webhook';

/** How long a request waits here for its contact. */
const PENDING_MS = 1500;

describe.each(OWN_DATABASES)('send requests from the bus (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let hooks: HttpFake;
  beforeAll(async () => {
    env = await openDelivery(open, undefined, { pendingContactMs: PENDING_MS });
    hooks = await startHttpFake();
    hooks.route('POST', /^\/hooks\//, () => ({ status: 200, headers: { 'x-request-id': 'hook-1' }, body: 'ok' }));
  });
  afterAll(async () => {
    await hooks?.close();
    await env?.close();
  });

  const template = async (ctx: Org, channel: Channel, name = channel) =>
    unwrap(
      await env.services.createTemplate(ctx, {
        name,
        channel,
        source:
          channel === 'email'
            ? { html: '<p>Hi {{contact.firstName}}</p>', subject: 'Hi' }
            : channel === 'sms'
              ? { body: 'Hi {{contact.firstName}}' }
              : channel === 'push'
                ? { title: 'Hi', body: 'Hi {{contact.firstName}}' }
                : {
                    method: 'POST',
                    urlTemplate: `${hooks.url}/hooks/{{contact.id}}`,
                    bodyTemplate: '{"email": "{{contact.email}}", "step": "{{context.step}}"}',
                  },
      }),
    ).id;

  const request = (
    ctx: Org,
    data: { channel: Channel; templateId: string; contactId: string | null; address?: string | null; key?: string },
  ) =>
    createEvent(catalogue.delivery.messageRequested, {
      organizationId: ctx.organizationId,
      subjectId: data.contactId ?? newId(),
      correlationId: newId(),
      data: {
        channel: data.channel,
        templateId: data.templateId,
        contactId: data.contactId,
        address: data.address ?? null,
        context: { step: 3 },
        idempotencyKey: data.key ?? `journey:${newId()}:send:1`,
        source: { kind: 'journey', id: newId(), stepId: 'send' },
      },
    });

  const rowsOf = (ctx: Org) =>
    env.handle.db
      .select({
        key: messages.idempotencyKey,
        channel: messages.channel,
        address: messages.address,
        status: messages.status,
        error: messages.error,
      })
      .from(messages)
      .where(eq(messages.organizationId, ctx.organizationId))
      .orderBy(messages.idempotencyKey);

  /** The organization's outbox events of one type, parsed against the catalogue. */
  const published = async (ctx: Org, type: string) =>
    (
      await env.handle.db
        .select()
        .from(outbox)
        .where(and(eq(outbox.organizationId, ctx.organizationId), eq(outbox.type, type)))
        .orderBy(outbox.seq)
    ).map((row) => parseEvent(row.envelope) as EventEnvelope<string, Record<string, unknown>>);

  const apply = (event: EventEnvelope) => applySendRequest(env.services.deps, event);

  it('queues one message per idempotency key, addressed from delivery`s copy of the contact', async () => {
    const ctx = newOrg();
    const email = await template(ctx, 'email');
    const contactId = await seedContact(env.services, ctx.organizationId, { email: 'Step@Example.com' });
    const first = request(ctx, { channel: 'email', templateId: email, contactId, key: 'run-1:step-3' });
    expect(await apply(first)).toBe(true);
    // The same event again, and another event with the same key: still one message.
    expect(await apply(first)).toBe(false);
    expect(await apply(request(ctx, { channel: 'email', templateId: email, contactId, key: 'run-1:step-3' }))).toBe(
      true,
    );
    expect(await rowsOf(ctx)).toEqual([
      { key: 'run-1:step-3', channel: 'email', address: 'step@example.com', status: 'queued', error: null },
    ]);
    expect(await published(ctx, 'delivery.message.queued')).toHaveLength(1);
  });

  it('ends a request that cannot become a message as one settled with its reason and delivery.message.failed, once', async () => {
    const ctx = newOrg();
    const [email, sms] = [await template(ctx, 'email'), await template(ctx, 'sms')];
    const noAddress = await seedContact(env.services, ctx.organizationId, { firstName: 'Ada' });
    const gone = await seedContact(env.services, ctx.organizationId, { email: 'gone@example.com' });
    await applyCrmEvent(
      env.services.deps,
      createEvent(catalogue.crm.contactDeleted, {
        organizationId: ctx.organizationId,
        subjectId: gone,
        correlationId: newId(),
        data: { erased: false },
      }),
    );
    const requests = [
      request(ctx, { channel: 'email', templateId: email, contactId: noAddress, key: 'a-no-email' }),
      request(ctx, { channel: 'sms', templateId: sms, contactId: noAddress, key: 'b-no-phone' }),
      request(ctx, {
        channel: 'push',
        templateId: await template(ctx, 'push'),
        contactId: noAddress,
        key: 'c-no-token',
      }),
      request(ctx, { channel: 'email', templateId: email, contactId: null, key: 'd-no-one' }),
      request(ctx, { channel: 'email', templateId: email, contactId: gone, key: 'e-deleted' }),
      request(ctx, { channel: 'email', templateId: newId(), contactId: noAddress, key: 'f-no-template' }),
      request(ctx, { channel: 'email', templateId: sms, contactId: null, address: 'a@example.com', key: 'g-sms-tpl' }),
    ];
    for (const event of [...requests, ...requests]) await apply(event);
    // A new event with a settled request's key changes nothing either.
    await apply(request(ctx, { channel: 'email', templateId: email, contactId: noAddress, key: 'a-no-email' }));

    expect((await rowsOf(ctx)).map((r) => [r.key, r.status, r.address, r.error])).toEqual([
      ['a-no-email', 'skipped', '', 'no_address: the contact has no email address'],
      ['b-no-phone', 'skipped', '', 'no_address: the contact has no sms address'],
      ['c-no-token', 'skipped', '', 'no_address: the contact has no push address'],
      ['d-no-one', 'skipped', '', 'no_address: the contact has no email address'],
      ['e-deleted', 'skipped', '', 'do_not_contact: the contact was deleted'],
      ['f-no-template', 'failed', '', 'render_error: the template does not exist'],
      ['g-sms-tpl', 'failed', 'a@example.com', 'render_error: the template is a sms template, not email'],
    ]);
    const failed = await published(ctx, 'delivery.message.failed');
    expect(failed.map((e) => [e.data.reason, e.subject.id])).toEqual([
      ['no_address', noAddress],
      ['no_address', noAddress],
      ['no_address', noAddress],
      ['no_address', expect.any(String)],
      ['do_not_contact', gone],
      ['render_error', noAddress],
      ['render_error', expect.any(String)],
    ]);
    expect(failed[0]!.data).toMatchObject({
      contactId: noAddress,
      channel: 'email',
      templateId: email,
      source: { kind: 'journey', stepId: 'send' },
      detail: 'the contact has no email address',
    });
    expect(failed[0]!.correlationId).toBe(requests[0]!.correlationId);
    expect(await published(ctx, 'delivery.message.queued')).toEqual([]);
  });

  it('sends a push to every device of the contact, one message per token keyed by the request and the token', async () => {
    const ctx = newOrg();
    const push = await template(ctx, 'push');
    const contactId = await seedContact(env.services, ctx.organizationId, { firstName: 'Ada' });
    const [phone, tablet] = ['phone-token-0123456789abcdef', 'tablet-token-0123456789abcdef'];
    for (const token of [phone, tablet]) unwrap(await env.services.registerPushToken(ctx, { contactId, token }));
    const event = request(ctx, { channel: 'push', templateId: push, contactId, key: 'journey:r:push:1' });
    await apply(event);
    await apply(request(ctx, { channel: 'push', templateId: push, contactId, key: 'journey:r:push:1' }));
    const rows = await rowsOf(ctx);
    expect(rows.map((r) => [r.key, r.address, r.status]).sort()).toEqual(
      [
        [deviceKey('journey:r:push:1', phone), phone, 'queued'],
        [deviceKey('journey:r:push:1', tablet), tablet, 'queued'],
      ].sort(),
    );
    expect(deviceKey('journey:r:push:1', phone)).toMatch(/^journey:r:push:1:[0-9a-f]{16}$/);
    const queued = await published(ctx, 'delivery.message.queued');
    expect(queued.map((e) => e.data.idempotencyKey).sort()).toEqual(rows.map((r) => r.key).sort());
  });

  it("sends a webhook request to its template's URL, with the contact's data, through the engine", async () => {
    const ctx = newOrg();
    const webhook = await template(ctx, 'webhook');
    unwrap(
      await env.services.createProviderConfig(ctx, { name: 'hooks', kind: 'webhook', config: {}, isDefault: true }),
    );
    const contactId = await seedContact(env.services, ctx.organizationId, { email: 'ada@example.com' });
    await apply(request(ctx, { channel: 'webhook', templateId: webhook, contactId, key: 'journey:r:hook:1' }));
    expect(await rowsOf(ctx)).toEqual([
      {
        key: 'journey:r:hook:1',
        channel: 'webhook',
        address: `${hooks.url}/hooks/{{contact.id}}`,
        status: 'queued',
        error: null,
      },
    ]);
    await drain(startEngineFor(env));
    const call = hooks.requests.find((r) => r.path === `/hooks/${contactId}`);
    expect(call?.json()).toEqual({ email: 'ada@example.com', step: '3' });
    expect((await rowsOf(ctx))[0]!.status).toBe('sent');
    expect((await published(ctx, 'delivery.message.sent'))[0]!.data).toMatchObject({ channel: 'webhook', contactId });
  });

  it('a request the engine will not send (suppressed, no consent, capped) ends in delivery.message.failed with the reason', async () => {
    const ctx = newOrg();
    const email = await template(ctx, 'email');
    unwrap(await env.services.updateSettings(ctx, { frequencyCaps: { email: { max: 1, periodSeconds: 3600 } } }));
    const suppressed = await seedContact(env.services, ctx.organizationId, { email: 'bounced@example.com' });
    unwrap(
      await env.services.addSuppression(ctx, { channel: 'email', address: 'bounced@example.com', reason: 'manual' }),
    );
    const unsubscribed = await seedContact(env.services, ctx.organizationId, { email: 'no@example.com' });
    await applyCrmEvent(
      env.services.deps,
      createEvent(catalogue.crm.dncChanged, {
        organizationId: ctx.organizationId,
        subjectId: unsubscribed,
        correlationId: newId(),
        data: { channel: 'email', doNotContact: true, reason: 'unsubscribed' },
      }),
    );
    const capped = await seedContact(env.services, ctx.organizationId, { email: 'capped@example.com' });
    await apply(request(ctx, { channel: 'email', templateId: email, contactId: suppressed, key: 'a' }));
    await apply(request(ctx, { channel: 'email', templateId: email, contactId: unsubscribed, key: 'b' }));
    await apply(request(ctx, { channel: 'email', templateId: email, contactId: capped, key: 'c1' }));
    await apply(request(ctx, { channel: 'email', templateId: email, contactId: capped, key: 'c2' }));
    await drain(startEngineFor(env, { localOutbox: true }));
    const failed = await published(ctx, 'delivery.message.failed');
    expect(failed.map((e) => [e.subject.id, e.data.reason]).sort()).toEqual(
      [
        [suppressed, 'suppressed'],
        [unsubscribed, 'do_not_contact'],
        [capped, 'frequency_cap'],
      ].sort(),
    );
    expect((await published(ctx, 'delivery.message.sent')).map((e) => e.subject.id)).toEqual([capped]);
  });

  it("notifies a member as a journey's notify step asks: its template to the member's address, once; without a template, a failed message", async () => {
    const ctx = newOrg();
    const email = await template(ctx, 'email');
    const notify = (templateId: string | null, key: string) =>
      createEvent(catalogue.journeyActions.notificationRequested, {
        organizationId: ctx.organizationId,
        subjectId: newId(),
        correlationId: newId(),
        data: {
          runId: newId(),
          journeyId: newId(),
          stepId: 'tell-sales',
          idempotencyKey: key,
          via: 'email',
          target: 'Sales@Example.com',
          templateId,
          context: { plan: 'pro' },
        },
      });
    const first = notify(email, 'journey:run:tell-sales:1');
    expect(await applyNotificationRequest(env.services.deps, first)).toBe(true);
    expect(await applyNotificationRequest(env.services.deps, first)).toBe(false);
    await applyNotificationRequest(env.services.deps, notify(null, 'journey:run:tell-sales:2'));
    expect(await rowsOf(ctx)).toEqual([
      {
        key: 'journey:run:tell-sales:1',
        channel: 'email',
        address: 'Sales@Example.com',
        status: 'queued',
        error: null,
      },
      {
        key: 'journey:run:tell-sales:2',
        channel: 'email',
        address: 'Sales@Example.com',
        status: 'failed',
        error: expect.stringContaining('render_error'),
      },
    ]);
  });

  it('holds a request for a contact delivery has not heard of, and sends it when the contact arrives', async () => {
    const ctx = newOrg();
    const email = await template(ctx, 'email');
    const [early, erased] = [newId(), newId()];
    const waiting = request(ctx, { channel: 'email', templateId: email, contactId: early, key: 'early' });
    await apply(waiting);
    await apply(waiting);
    await apply(request(ctx, { channel: 'email', templateId: email, contactId: erased, key: 'erased' }));
    expect(await rowsOf(ctx)).toEqual([]);
    const held = await env.handle.db
      .select({ key: pendingRequests.idempotencyKey })
      .from(pendingRequests)
      .where(eq(pendingRequests.organizationId, ctx.organizationId));
    expect(held.map((h) => h.key).sort()).toEqual(['early', 'erased']);

    await seedContact(env.services, ctx.organizationId, { email: 'Early@example.com' }, early);
    await applyCrmEvent(
      env.services.deps,
      createEvent(catalogue.crm.contactDeleted, {
        organizationId: ctx.organizationId,
        subjectId: erased,
        correlationId: newId(),
        data: { erased: true },
      }),
    );
    expect((await rowsOf(ctx)).map((r) => [r.key, r.status, r.address, r.error])).toEqual([
      ['early', 'queued', 'early@example.com', null],
      ['erased', 'skipped', '', 'do_not_contact: the contact was deleted'],
    ]);
    const [queued] = await published(ctx, 'delivery.message.queued');
    // The message carries the request's correlation, not the contact event's.
    expect(queued!.correlationId).toBe(waiting.correlationId);
    const [pending] = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from delivery.pending_requests where organization_id = ${ctx.organizationId}`,
    );
    expect(pending!.n).toBe(0);
  });

  it('applies a batch of requests in one transaction with the outcomes one by one would give, each once', async () => {
    const ctx = newOrg();
    const other = newOrg();
    const email = await template(ctx, 'email');
    const otherEmail = await template(other, 'email');
    const [ada, bob] = [
      await seedContact(env.services, ctx.organizationId, { email: 'Ada@example.com' }),
      await seedContact(env.services, ctx.organizationId, { email: 'bob@example.com' }),
    ];
    const noAddress = await seedContact(env.services, ctx.organizationId, { firstName: 'Cy' });
    const theirs = await seedContact(env.services, other.organizationId, { email: 'dee@example.com' });
    const unknown = newId();
    const applied = request(ctx, { channel: 'email', templateId: email, contactId: bob, key: 'b-applied' });
    await apply(applied);
    const first = request(ctx, { channel: 'email', templateId: email, contactId: ada, key: 'a-queued' });
    const batch = [
      first,
      // The same event twice, another event with the same key, an event applied before.
      first,
      request(ctx, { channel: 'email', templateId: email, contactId: ada, key: 'a-queued' }),
      applied,
      request(ctx, { channel: 'email', templateId: email, contactId: bob, key: 'c-queued' }),
      request(ctx, { channel: 'email', templateId: email, contactId: noAddress, key: 'd-no-address' }),
      request(ctx, { channel: 'email', templateId: email, contactId: unknown, key: 'e-held' }),
      // Another organization's request in the same batch: its own contact and template.
      request(other, { channel: 'email', templateId: otherEmail, contactId: theirs, key: 'f-theirs' }),
    ];
    expect(await applySendRequests(env.services.deps, batch)).toBe(6);
    expect(await applySendRequests(env.services.deps, batch)).toBe(0);

    expect((await rowsOf(ctx)).map((r) => [r.key, r.status, r.address, r.error])).toEqual([
      ['a-queued', 'queued', 'ada@example.com', null],
      ['b-applied', 'queued', 'bob@example.com', null],
      ['c-queued', 'queued', 'bob@example.com', null],
      ['d-no-address', 'skipped', '', 'no_address: the contact has no email address'],
    ]);
    expect((await rowsOf(other)).map((r) => [r.key, r.status, r.address])).toEqual([
      ['f-theirs', 'queued', 'dee@example.com'],
    ]);
    // Each queued event carries its own request's correlation.
    const queued = await published(ctx, 'delivery.message.queued');
    expect(new Map(queued.map((e) => [e.data.idempotencyKey, e.correlationId]))).toEqual(
      new Map([
        ['a-queued', first.correlationId],
        ['b-applied', applied.correlationId],
        ['c-queued', batch[4]!.correlationId],
      ]),
    );
    expect((await published(ctx, 'delivery.message.failed')).map((e) => e.data.reason)).toEqual(['no_address']);
    const held = await env.handle.db
      .select({ key: pendingRequests.idempotencyKey })
      .from(pendingRequests)
      .where(eq(pendingRequests.organizationId, ctx.organizationId));
    expect(held).toEqual([{ key: 'e-held' }]);
    await seedContact(env.services, ctx.organizationId, { email: 'late@example.com' }, unknown);
    expect((await rowsOf(ctx)).find((r) => r.key === 'e-held')).toMatchObject({ status: 'queued' });
  });

  it('a batch with a malformed request applies none of it, so the bus can apply its requests one by one', async () => {
    const ctx = newOrg();
    const email = await template(ctx, 'email');
    const contactId = await seedContact(env.services, ctx.organizationId, { email: 'ada@example.com' });
    const good = request(ctx, { channel: 'email', templateId: email, contactId, key: 'good' });
    const bad = { ...request(ctx, { channel: 'email', templateId: email, contactId }), data: { channel: 'fax' } };
    await expect(applySendRequests(env.services.deps, [good, bad])).rejects.toThrow();
    expect(await rowsOf(ctx)).toEqual([]);
    expect(await apply(good)).toBe(true);
  });

  it('ends a request whose contact never arrives as skipped, unknown_contact, at its deadline', async () => {
    const ctx = newOrg();
    const email = await template(ctx, 'email');
    const started = Date.now();
    await apply(request(ctx, { channel: 'email', templateId: email, contactId: newId(), key: 'never' }));
    expect(await rowsOf(ctx)).toEqual([]);
    const failed = await vi.waitFor(
      async () => {
        const events = await published(ctx, 'delivery.message.failed');
        expect(events).toHaveLength(1);
        return events[0]!;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(PENDING_MS);
    expect(failed.data).toMatchObject({ reason: 'unknown_contact', address: '', channel: 'email' });
    expect((await rowsOf(ctx)).map((r) => [r.key, r.status, r.error])).toEqual([
      ['never', 'skipped', 'unknown_contact: delivery has not heard of this contact'],
    ]);
    // The contact arriving after its deadline sends nothing.
    await seedContact(env.services, ctx.organizationId, { email: 'late@example.com' }, failed.subject.id);
    expect((await rowsOf(ctx)).map((r) => r.status)).toEqual(['skipped']);
  });
});
