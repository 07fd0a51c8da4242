// The transactional API and what it reads back: idempotency (also under concurrency), suppression
// holding while an engine with several lanes is sending, delivery's copy of CRM contacts, the
// messages connection's filters and the per-template and per-source counts.
import { catalogue, createEvent, type EventEnvelope, newId, unwrap } from '@mauntic/kernel';
import { createLogger } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { graphql } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { enqueueMessage } from '../src/app/send.ts';
import { schema } from '../src/graphql/index.ts';
import { signToken } from '../src/tracking/index.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, seedContact, useSmtpRelay } from './harness.ts';

const logger = createLogger('test', 'silent');
type Org = ReturnType<typeof newOrg>;
type Data = Record<string, any>;

describe.each(OWN_DATABASES)('sending and reading messages (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;

  beforeAll(async () => {
    env = await openDelivery(open);
    smtp = await startSmtpFake();
  });
  afterEach(() => smtp.reset());
  afterAll(async () => {
    await smtp?.close();
    await env?.close();
  });

  const gql = async (ctx: Org, source: string, variables: Record<string, unknown> = {}) => {
    const result = await graphql({
      schema,
      source,
      variableValues: variables,
      contextValue: { request: ctx, services: env.services, log: logger },
    });
    expect(result.errors).toBeUndefined();
    return result.data as Data;
  };

  async function setUp(options: { smtp?: boolean } = {}) {
    const ctx = newOrg();
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'news',
        channel: 'email',
        source: { html: '<p>Hi {{contact.firstName}} <a href="https://shop.example.com/a">a</a></p>', subject: 'Hi' },
      }),
    );
    if (options.smtp !== false) await useSmtpRelay(env.services, ctx, smtp.port);
    return { ctx, template };
  }

  const queuedEvents = async (organizationId: string) =>
    (
      await env.handle.rows<{ n: number }>(
        sql`select count(*)::int as n from delivery.outbox where organization_id = ${organizationId}
            and type = 'delivery.message.queued'`,
      )
    )[0]!.n;

  it('one idempotency key sends one message; reused for another recipient it is an error', async () => {
    const { ctx, template } = await setUp();
    const send = `mutation($t: ID!, $to: String) {
      sendEmail(input: { templateId: $t, to: $to, idempotencyKey: "welcome-1" }) {
        __typename ... on Message { id status address } ... on IdempotencyKeyReusedError { idempotencyKey code }
      } }`;
    const first = (await gql(ctx, send, { t: template.id, to: 'Kim@Example.com' })).sendEmail;
    const again = (await gql(ctx, send, { t: template.id, to: 'kim@example.com' })).sendEmail;
    expect(first).toMatchObject({ __typename: 'Message', status: 'QUEUED', address: 'kim@example.com' });
    expect(again.id).toBe(first.id);
    expect(await queuedEvents(ctx.organizationId)).toBe(1);

    const reused = (await gql(ctx, send, { t: template.id, to: 'lee@example.com' })).sendEmail;
    expect(reused).toEqual({
      __typename: 'IdempotencyKeyReusedError',
      idempotencyKey: 'welcome-1',
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    // Another organization has keys of its own.
    const other = await setUp();
    const theirs = (await gql(other.ctx, send, { t: other.template.id, to: 'lee@example.com' })).sendEmail;
    expect(theirs.__typename).toBe('Message');
    expect(await queuedEvents(ctx.organizationId)).toBe(1);
  });

  it('a push to a contact goes to every device it registered, once per device; a device registered since gets its own', async () => {
    const ctx = newOrg();
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'ping',
        channel: 'push',
        source: { title: 'Hi', body: 'Hi {{contact.firstName}}' },
      }),
    );
    const contactId = await seedContact(env.services, ctx.organizationId, { email: 'kim@example.com' });
    const register = (token: string) =>
      gql(ctx, 'mutation($c: ID!, $t: String!) { registerPushToken(contactId: $c, token: $t) { __typename } }', {
        c: contactId,
        t: token,
      });
    const [phone, tablet, watch] = ['phone-token-0123456789', 'tablet-token-0123456789', 'watch-token-0123456789'];
    await register(phone);
    await register(tablet);
    const push = async () =>
      (
        await gql(
          ctx,
          `mutation($t: ID!, $c: ID) { sendPush(input: { templateId: $t, contactId: $c, idempotencyKey: "ping-1" }) {
            __typename ... on PushMessages { messages { id address status } } } }`,
          { t: template.id, c: contactId },
        )
      ).sendPush;
    const first = await push();
    expect(first.__typename).toBe('PushMessages');
    expect(first.messages.map((m: Data) => m.address).sort()).toEqual([phone, tablet]);
    expect(first.messages.every((m: Data) => m.status === 'QUEUED')).toBe(true);
    // The same request again changes nothing; with a new device, only that one is added.
    expect((await push()).messages.map((m: Data) => m.id).sort()).toEqual(first.messages.map((m: Data) => m.id).sort());
    await register(watch);
    const third = await push();
    expect(third.messages).toHaveLength(3);
    expect(third.messages.filter((m: Data) => !first.messages.some((f: Data) => f.id === m.id))).toMatchObject([
      { address: watch },
    ]);
    expect(await queuedEvents(ctx.organizationId)).toBe(3);
    // A bare token is one message.
    const bare = (
      await gql(
        ctx,
        `mutation($t: ID!) { sendPush(input: { templateId: $t, to: "bare-token-0123456789", idempotencyKey: "ping-2" }) {
          ... on PushMessages { messages { address } } } }`,
        { t: template.id },
      )
    ).sendPush;
    expect(bare.messages).toEqual([{ address: 'bare-token-0123456789' }]);
  });

  it('twenty concurrent sends with one key create one message and one queued event', async () => {
    const { ctx, template } = await setUp();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        env.services.sendMessage(ctx, 'email', {
          templateId: template.id,
          to: 'race@example.com',
          idempotencyKey: 'k',
        }),
      ),
    );
    const ids = new Set(results.map((r) => unwrap(r).id));
    expect(ids.size).toBe(1);
    const [count] = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from delivery.messages where organization_id = ${ctx.organizationId}`,
    );
    expect(count!.n).toBe(1);
    expect(await queuedEvents(ctx.organizationId)).toBe(1);
  });

  it('an address suppressed while an engine with four lanes sends never reaches the SMTP server', async () => {
    const { ctx, template } = await setUp();
    const send = (to: string) =>
      env.services.sendMessage(ctx, 'email', { templateId: template.id, to, idempotencyKey: newId() });
    for (let i = 0; i < 50; i++) unwrap(await send(`early${i}@example.com`));
    const engine = startEngineFor(env, { lanes: 4, batchSize: 10, sendConcurrency: 4 });
    await engine.start();
    try {
      unwrap(await env.services.addSuppression(ctx, { channel: 'email', address: 'blocked@example.com' }));
      // While the lanes work through the first ones, 100 to the blocked address and 50 more others.
      await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          send(i % 3 === 2 ? `late${i}@example.com` : 'BLOCKED@example.com').then(unwrap),
        ),
      );
      await vi.waitFor(
        async () => {
          const [left] = await env.handle.rows<{ n: number }>(
            sql`select count(*)::int as n from delivery.messages
                where organization_id = ${ctx.organizationId} and status in ('queued', 'sending')`,
          );
          expect(left!.n).toBe(0);
        },
        { timeout: 60_000, interval: 100 },
      );
    } finally {
      await engine.stop();
    }
    // (The engine also sends what other tests left queued.)
    const recipients = smtp.messages.map((m) => m.rcptTo[0]!).filter((r) => /^(early|late|blocked)/.test(r));
    expect(recipients).not.toContain('blocked@example.com');
    expect(recipients).toHaveLength(100);
    expect(new Set(recipients).size).toBe(100);
    const byStatus = await env.handle.rows<{ status: string; error: string | null; n: number }>(
      sql`select status, error, count(*)::int as n from delivery.messages
          where organization_id = ${ctx.organizationId} group by 1, 2 order by 1`,
    );
    expect(byStatus).toEqual([
      { status: 'sent', error: null, n: 100 },
      { status: 'skipped', error: 'suppressed: manual', n: 100 },
    ]);
  });

  describe("delivery's copy of CRM contacts", () => {
    const snapshot = {
      email: 'old@example.com',
      firstName: 'Old',
      lastName: null,
      phone: null,
      timezone: null,
      locale: null,
      ownerId: null,
      stageId: null,
      points: 0,
      tags: [],
      fields: {},
    };
    const at = (iso: string) => ({ occurredAt: iso });
    const contactRow = async (id: string) =>
      (
        await env.handle.rows<{
          email: string | null;
          first_name: string | null;
          do_not_contact: string[];
          deleted: boolean;
        }>(
          sql`select email, first_name, do_not_contact, deleted_at is not null as deleted from delivery.contacts where id = ${id}`,
        )
      )[0];
    const apply = (event: EventEnvelope) => applyCrmEvent(env.services.deps, event);

    it('follows created, updated, do-not-contact and deleted events; an older update never rolls it back', async () => {
      const ctx = newOrg();
      const id = newId();
      const base = { organizationId: ctx.organizationId, subjectId: id, correlationId: newId() };
      const created = {
        ...createEvent(catalogue.crm.contactCreated, { ...base, data: { contact: snapshot } }),
        ...at('2026-01-01T10:00:00.000Z'),
      };
      expect(await apply(created)).toBe(true);
      expect(await contactRow(id)).toMatchObject({ email: 'old@example.com', first_name: 'Old' });

      const updated = {
        ...createEvent(catalogue.crm.contactUpdated, {
          ...base,
          data: { contact: { ...snapshot, email: 'New@example.com', firstName: 'New' }, changed: ['email'] },
        }),
        ...at('2026-01-01T12:00:00.000Z'),
      };
      await apply(updated);
      expect(await contactRow(id)).toMatchObject({ email: 'New@example.com', first_name: 'New' });

      // An update that happened before the one applied, arriving late: ignored.
      const stale = {
        ...createEvent(catalogue.crm.contactUpdated, {
          ...base,
          data: { contact: { ...snapshot, firstName: 'Stale' }, changed: ['firstName'] },
        }),
        ...at('2026-01-01T11:00:00.000Z'),
      };
      await apply(stale);
      // The same events delivered again: applied once only.
      expect(await apply(created)).toBe(false);
      expect(await contactRow(id)).toMatchObject({ email: 'New@example.com', first_name: 'New' });

      await apply(createEvent(catalogue.crm.dncChanged, { ...base, data: { channel: 'email', doNotContact: true } }));
      await apply(createEvent(catalogue.crm.dncChanged, { ...base, data: { channel: 'sms', doNotContact: true } }));
      await apply(createEvent(catalogue.crm.dncChanged, { ...base, data: { channel: 'sms', doNotContact: false } }));
      expect((await contactRow(id))!.do_not_contact).toEqual(['email']);

      // Sending to the contact uses its address from the copy (lower-cased).
      const template = unwrap(
        await env.services.createTemplate(ctx, {
          name: 't',
          channel: 'email',
          category: 'transactional',
          source: { html: '<p>x</p>', subject: 'x' },
        }),
      );
      const message = unwrap(
        await env.services.sendMessage(ctx, 'email', { templateId: template.id, contactId: id, idempotencyKey: 'a' }),
      );
      expect(message.address).toBe('new@example.com');

      await apply(createEvent(catalogue.crm.contactDeleted, { ...base, data: { erased: true } }));
      // A tombstone stays, without personal data.
      const erased = { email: null, first_name: null, deleted: true };
      expect(await contactRow(id)).toMatchObject(erased);
      // A redelivered older event does not bring the contact back...
      expect(await apply(updated)).toBe(false);
      expect(await contactRow(id)).toMatchObject(erased);
      // ...nor does an older one never seen before, arriving late.
      const late = {
        ...createEvent(catalogue.crm.contactUpdated, {
          ...base,
          data: { contact: { ...snapshot, firstName: 'Late' }, changed: ['firstName'] },
        }),
        ...at('2026-01-01T13:00:00.000Z'),
      };
      expect(await apply(late)).toBe(true);
      expect(await contactRow(id)).toMatchObject(erased);
      const gone = await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        contactId: id,
        idempotencyKey: 'b',
      });
      expect(gone.ok ? null : gone.error.code).toBe('NOT_FOUND');
    });

    it("an event of another organization does not touch this organization's contact", async () => {
      const ctx = newOrg();
      const id = await seedContact(env.services, ctx.organizationId, { email: 'mine@example.com' });
      await apply(
        createEvent(catalogue.crm.contactUpdated, {
          organizationId: newOrg().organizationId,
          subjectId: id,
          correlationId: newId(),
          data: { contact: { ...snapshot, email: 'stolen@example.com' }, changed: ['email'] },
        }),
      );
      await apply(
        createEvent(catalogue.crm.contactDeleted, {
          organizationId: newOrg().organizationId,
          subjectId: id,
          correlationId: newId(),
          data: { erased: true },
        }),
      );
      expect(await contactRow(id)).toMatchObject({ email: 'mine@example.com' });
    });

    it("a contact field CRM deleted leaves the organization's copies without its values", async () => {
      const ctx = newOrg();
      const fields = { plan: 'pro', city: 'Paris' };
      const [ada, bob] = [
        await seedContact(env.services, ctx.organizationId, { fields }),
        await seedContact(env.services, ctx.organizationId, { fields: { city: 'Rome' } }),
      ];
      const other = newOrg();
      const theirs = await seedContact(env.services, other.organizationId, { fields });
      const deleted = (organizationId: string, entity: 'contact' | 'company', key: string) =>
        createEvent(catalogue.crm.fieldDeleted, {
          organizationId,
          subjectId: newId(),
          correlationId: newId(),
          data: { entity, key, type: 'text', options: {} },
        });
      await apply(deleted(ctx.organizationId, 'contact', 'plan'));
      // A company field of the same key is not the contacts'.
      await apply(deleted(ctx.organizationId, 'company', 'city'));
      const fieldsOf = async (id: string) =>
        (await env.handle.rows<{ fields: unknown }>(sql`select fields from delivery.contacts where id = ${id}`))[0]!
          .fields;
      expect(await fieldsOf(ada)).toEqual({ city: 'Paris' });
      expect(await fieldsOf(bob)).toEqual({ city: 'Rome' });
      expect(await fieldsOf(theirs)).toEqual(fields);
    });
  });

  it('filters messages by status, channel, template and contact, and counts them per template and source', async () => {
    const { ctx, template } = await setUp();
    const other = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'other',
        channel: 'email',
        source: { html: '<p>Other</p>', subject: 'Other' },
      }),
    );
    const sms = unwrap(await env.services.createTemplate(ctx, { name: 'sms', channel: 'sms', source: { body: 'Hi' } }));
    const ann = await seedContact(env.services, ctx.organizationId, {
      email: 'ann@example.com',
      phone: '+15550001111',
    });
    const send = async (
      templateId: string,
      to: { to?: string; contactId?: string },
      channel: 'email' | 'sms' = 'email',
    ) => unwrap(await env.services.sendMessage(ctx, channel, { templateId, ...to, idempotencyKey: newId() }));
    const campaign = (to: string) =>
      env.handle.db.transaction(async (tx) =>
        unwrap(
          await enqueueMessage(
            tx,
            ctx.organizationId,
            {
              channel: 'email',
              templateId: template.id,
              contactId: null,
              address: to,
              context: {},
              idempotencyKey: newId(),
              source: { kind: 'campaign', id: 'spring', stepId: null },
            },
            newId(),
          ),
        ),
      );

    const toAnn = await send(template.id, { contactId: ann });
    const toBo = await send(template.id, { to: 'bo@example.com' });
    const toCy = await send(other.id, { to: 'cy@example.com' });
    const spring1 = await campaign('s1@example.com');
    const spring2 = await campaign('s2@example.com');
    unwrap(await env.services.addSuppression(ctx, { channel: 'email', address: 'cy@example.com' }));
    const engine = startEngineFor(env);
    await drain(engine);
    await engine.stop();
    // Queued after the drain: it stays queued.
    await send(sms.id, { contactId: ann }, 'sms');

    // Opens: a person (twice), Apple's proxy; clicks: a person and a link scanner.
    await env.handle.rows(sql`update delivery.messages set sent_at = now() - interval '1 minute'
      where organization_id = ${ctx.organizationId} and sent_at is not null`);
    const token = (k: 'o' | 'c', m: { id: string }) =>
      signToken(
        k === 'o' ? { k, m: m.id, o: ctx.organizationId } : { k, m: m.id, o: ctx.organizationId, l: 0 },
        env.keys.trackingKey,
      );
    const person = {
      userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0',
      ip: '203.0.113.9',
    };
    expect(await env.services.trackOpen(token('o', toAnn), person)).toBe(true);
    await env.services.trackOpen(token('o', toAnn), person);
    await env.services.trackOpen(token('o', toBo), { userAgent: 'Mozilla/5.0', ip: '17.58.1.1' });
    await env.services.trackOpen(token('o', spring1), { userAgent: 'Mozilla/5.0', ip: '17.58.1.1' });
    expect(await env.services.trackClick(token('c', toAnn), person)).toBe('https://shop.example.com/a');
    await env.services.trackClick(token('c', toBo), {
      userAgent: 'Mozilla/5.0 (compatible; BingPreview/1.0b)',
      ip: '1.1.1.1',
    });

    const list = async (filter: Record<string, unknown>) =>
      (
        await gql(
          ctx,
          `query($f: MessageFilter) { messages(first: 50, filter: $f) { totalCount edges { node { id status } } } }`,
          { f: filter },
        )
      ).messages as { totalCount: number; edges: { node: { id: string; status: string } }[] };
    const idsOf = async (filter: Record<string, unknown>) => (await list(filter)).edges.map((e) => e.node.id).sort();

    expect((await list({})).totalCount).toBe(6);
    expect(await idsOf({ status: 'SKIPPED' })).toEqual([toCy.id]);
    expect(await idsOf({ status: 'CLICKED' })).toEqual([toAnn.id]);
    expect(await idsOf({ status: 'SENT' })).toEqual([toBo.id, spring1.id, spring2.id].sort());
    expect((await idsOf({ channel: 'SMS' })).length).toBe(1);
    expect(await idsOf({ templateId: other.id })).toEqual([toCy.id]);
    expect((await idsOf({ contactId: ann })).length).toBe(2);
    expect(await idsOf({ contactId: ann, channel: 'EMAIL' })).toEqual([toAnn.id]);
    expect(await idsOf({ sourceKind: 'CAMPAIGN', sourceId: 'spring' })).toEqual([spring1.id, spring2.id].sort());
    expect(await idsOf({ address: 'BO@example.com' })).toEqual([toBo.id]);

    const stats = `query($by: DeliveryStatsBy!) { deliveryStats(by: $by) {
      key queued sent skipped failed opened clicked machineOpened machineClicked } }`;
    const byTemplate = new Map(
      ((await gql(ctx, stats, { by: 'TEMPLATE' })).deliveryStats as Data[]).map((s) => [s.key, s]),
    );
    expect(byTemplate.get(template.id)).toEqual({
      key: template.id,
      queued: 0,
      sent: 4,
      skipped: 0,
      failed: 0,
      opened: 1,
      clicked: 1,
      machineOpened: 2,
      machineClicked: 1,
    });
    expect(byTemplate.get(other.id)).toMatchObject({ sent: 0, skipped: 1 });
    expect(byTemplate.get(sms.id)).toMatchObject({ queued: 1, sent: 0 });

    const bySource = new Map(
      ((await gql(ctx, stats, { by: 'SOURCE' })).deliveryStats as Data[]).map((s) => [s.key, s]),
    );
    expect([...bySource.keys()].sort()).toEqual(['campaign:spring', 'transactional:']);
    expect(bySource.get('campaign:spring')).toMatchObject({ sent: 2, opened: 0, machineOpened: 1 });
    expect(bySource.get('transactional:')).toMatchObject({
      sent: 2,
      skipped: 1,
      queued: 1,
      opened: 1,
      machineOpened: 1,
      clicked: 1,
      machineClicked: 1,
    });
  });

  it('a caller without delivery:read gets FORBIDDEN from the read fields, not an empty answer', async () => {
    const { ctx, template } = await setUp({ smtp: false });
    const message = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: 'x@example.com',
        idempotencyKey: 'k',
      }),
    );
    const reads = `query($m: ID!, $t: ID!) { message(id: $m) { id } template(id: $t) { id } deliverySettings { defaultFromName } }`;
    const variables = { m: message.id, t: template.id };
    const denied = await graphql({
      schema,
      source: reads,
      variableValues: variables,
      contextValue: { request: { ...ctx, scopes: ['crm:read'] }, services: env.services, log: logger },
    });
    expect(denied.errors?.map((e) => [e.path?.[0], e.extensions?.code]).sort()).toEqual([
      ['deliverySettings', 'FORBIDDEN'],
      ['message', 'FORBIDDEN'],
      ['template', 'FORBIDDEN'],
    ]);
    // The same organization with the scope reads them: the refusal was for the scope.
    const own = await gql(ctx, reads, variables);
    expect(own).toMatchObject({ message: { id: message.id }, template: { id: template.id } });
  });
});
