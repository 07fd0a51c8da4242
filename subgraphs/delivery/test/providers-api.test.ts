// Provider configurations through the application layer and the schema: secrets sealed at rest
// and never returned, kept across updates; one default per channel; failover within a channel;
// config errors pointing at the field; deleting a provider clears references to it.
import { unwrap } from '@mauntic/kernel';
import { createLogger } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { graphql } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/index.ts';
import { decryptSecrets, type EncryptionKey } from '../src/providers/index.ts';
import { DATABASES, newOrg, openDelivery } from './harness.ts';

const logger = createLogger('test', 'silent');

describe.each(DATABASES)('providers (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  beforeAll(async () => {
    env = await openDelivery(open);
  });
  afterAll(() => env?.close());

  const stored = async (id: string) =>
    (
      await env.handle.rows<{ settings: Record<string, unknown>; secrets: string | null; is_default: boolean }>(
        sql`select settings, secrets, is_default from delivery.providers where id = ${id}`,
      )
    )[0]!;

  it('seals secrets at rest and never returns them; an update without secrets keeps them', async () => {
    const ctx = newOrg();
    const result = await graphql({
      schema,
      source: `mutation { createProvider(input: { name: "relay", kind: SMTP, isDefault: true,
        config: { host: "smtp.example.com", port: 2525, user: "mailer", pass: "hunter2-very-secret" } }) {
        __typename ... on Provider { id settings secretsSet isDefault channel } } }`,
      contextValue: { request: ctx, services: env.services, log: logger },
    });
    expect(result.errors).toBeUndefined();
    const provider = (result.data as { createProvider: Record<string, unknown> }).createProvider;
    expect(provider).toMatchObject({ __typename: 'Provider', secretsSet: ['pass'], isDefault: true, channel: 'EMAIL' });
    expect(JSON.stringify(result)).not.toContain('hunter2');
    const row = await stored(provider.id as string);
    expect(row.secrets).toBeTruthy();
    expect(row.secrets).not.toContain('hunter2');
    expect(Buffer.from(row.secrets!, 'base64').toString('latin1')).not.toContain('hunter2');
    expect(JSON.stringify(row.settings)).not.toContain('hunter2');
    expect(row.settings).toMatchObject({ host: 'smtp.example.com', port: 2525, user: 'mailer' });

    const updated = unwrap(
      await env.services.updateProviderConfig(ctx, { id: provider.id as string, config: { port: 587 } }),
    );
    expect(updated.settings).toMatchObject({ host: 'smtp.example.com', port: 587 });
    expect(env.services.secretFieldsSet(updated)).toEqual(['pass']);
    const resealed = (await stored(updated.id)).secrets!;
    expect(
      decryptSecrets(resealed, env.keys.encryptionKey as EncryptionKey, {
        organizationId: ctx.organizationId,
        providerId: updated.id,
      }),
    ).toEqual({ pass: 'hunter2-very-secret' });
  });

  it('keeps one default provider per channel', async () => {
    const ctx = newOrg();
    const first = unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'one',
        kind: 'smtp',
        config: { host: 'a.example.com' },
        isDefault: true,
      }),
    );
    const sms = unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'sms',
        kind: 'twilio',
        config: { accountSid: 'AC1', authToken: 't', from: '+15550001111' },
        isDefault: true,
      }),
    );
    const second = unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'two',
        kind: 'smtp',
        config: { host: 'b.example.com' },
        isDefault: true,
      }),
    );
    expect((await stored(first.id)).is_default).toBe(false);
    expect((await stored(second.id)).is_default).toBe(true);
    expect((await stored(sms.id)).is_default).toBe(true);
    unwrap(await env.services.updateProviderConfig(ctx, { id: first.id, isDefault: true }));
    expect((await stored(first.id)).is_default).toBe(true);
    expect((await stored(second.id)).is_default).toBe(false);
    // Another organization's default is its own.
    const other = newOrg();
    unwrap(
      await env.services.createProviderConfig(other, {
        name: 'x',
        kind: 'smtp',
        config: { host: 'c.example.com' },
        isDefault: true,
      }),
    );
    expect((await stored(first.id)).is_default).toBe(true);
  });

  it('refuses a failover of another channel, and invalid config with the field`s path', async () => {
    const ctx = newOrg();
    const sms = unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'sms',
        kind: 'twilio',
        config: { accountSid: 'AC1', authToken: 't', from: '+15550001111' },
      }),
    );
    const mixed = await env.services.createProviderConfig(ctx, {
      name: 'email',
      kind: 'smtp',
      config: { host: 'a.example.com' },
      failoverProviderId: sms.id,
    });
    expect(mixed.ok ? null : mixed.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ path: ['input', 'failoverProviderId'] }],
    });
    const invalid = await env.services.createProviderConfig(ctx, {
      name: 'bad',
      kind: 'smtp',
      config: { host: 'a.example.com', port: 'twenty-five' },
    });
    expect(invalid.ok ? null : invalid.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ path: ['input', 'config', 'port'] }],
    });
    const missing = await env.services.createProviderConfig(ctx, { name: 'bad2', kind: 'mailgun', config: {} });
    expect(missing.ok ? null : (missing.error as { issues: { path: string[] }[] }).issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        ['input', 'config', 'domain'],
        ['input', 'config', 'apiKey'],
      ]),
    );
    const [count] = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from delivery.providers where organization_id = ${ctx.organizationId}`,
    );
    expect(count!.n).toBe(1);
  });

  it('deleting a provider clears the failover references to it', async () => {
    const ctx = newOrg();
    const backup = unwrap(
      await env.services.createProviderConfig(ctx, { name: 'backup', kind: 'smtp', config: { host: 'b.example.com' } }),
    );
    const primary = unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'primary',
        kind: 'smtp',
        config: { host: 'a.example.com' },
        isDefault: true,
        failoverProviderId: backup.id,
      }),
    );
    expect(primary.failoverProviderId).toBe(backup.id);
    unwrap(await env.services.deleteProviderConfig(ctx, backup.id));
    const [row] = await env.handle.rows<{ failover_provider_id: string | null }>(
      sql`select failover_provider_id from delivery.providers where id = ${primary.id}`,
    );
    expect(row!.failover_provider_id).toBeNull();
    const again = await env.services.deleteProviderConfig(ctx, backup.id);
    expect(again.ok ? null : again.error.code).toBe('NOT_FOUND');
  });
});
