// Provider configurations through the application layer and the schema: secrets sealed at rest
// and never returned, kept across updates; one default per channel; failover within a channel;
// config errors pointing at the field; deleting a provider clears references to it.
import { lookup } from 'node:dns/promises';
import { type AddressInfo, createServer } from 'node:net';
import { unwrap } from '@mauntic/kernel';
import { createLogger, outboundGuard } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { graphql } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryServices } from '../src/app/services.ts';
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

  describe('addresses in the platform`s own network', () => {
    /** Test names, as /etc/hosts lines of this process only; other names resolve as usual. */
    const HOSTS: Record<string, string[]> = {
      'relay.test': ['93.184.216.34'],
      'metadata.test': ['169.254.169.254'],
      'internal-relay.test': ['10.0.0.9'],
    };
    const resolve = async (host: string) =>
      HOSTS[host]?.map((address) => ({ address, family: 4 })) ?? lookup(host, { all: true });
    /** Cluster mode's services: no allow-list, unless `allow` names hosts. */
    const services = (allow: string[] = []) =>
      createDeliveryServices({ ...env.services.deps, outbound: outboundGuard({ allow, resolve }) });
    const refusal = (field: string) => ({
      code: 'VALIDATION_FAILED',
      issues: [{ path: ['input', 'config', field], message: 'must be a public address' }],
    });
    const errorOf = (result: { ok: boolean; error?: unknown }) => (result.ok ? null : result.error);

    it('an SMTP host, a webhook URL or an API base URL aimed at them is a typed error on its field', async () => {
      const ctx = newOrg();
      const s = services();
      for (const host of ['127.0.0.1', 'localhost', '10.1.2.3', 'metadata.test', '::ffff:127.0.0.1', 'fd00:ec2::254'])
        expect(
          errorOf(await s.createProviderConfig(ctx, { name: host, kind: 'smtp', config: { host } })),
          host,
        ).toEqual(expect.objectContaining(refusal('host')));
      for (const url of ['http://127.0.0.1:6379/', 'http://[::1]:8080/hook', 'http://169.254.169.254/latest/meta-data'])
        expect(
          errorOf(await s.createProviderConfig(ctx, { name: url, kind: 'webhook', config: { url } })),
          url,
        ).toEqual(expect.objectContaining(refusal('url')));
      const api = await s.createProviderConfig(ctx, {
        name: 'sg',
        kind: 'sendgrid',
        config: { apiKey: 'SG.x', baseUrl: 'http://192.168.0.10:8080' },
      });
      expect(errorOf(api)).toEqual(expect.objectContaining(refusal('baseUrl')));
      const [count] = await env.handle.rows<{ n: number }>(
        sql`select count(*)::int as n from delivery.providers where organization_id = ${ctx.organizationId}`,
      );
      expect(count!.n).toBe(0);

      // Through the schema: the typed error, and nothing about the address.
      const result = await graphql({
        schema,
        source: `mutation { createProvider(input: { name: "meta", kind: SMTP, config: { host: "metadata.test" } }) {
          __typename ... on ValidationError { issues { path message } } } }`,
        contextValue: { request: ctx, services: s, log: logger },
      });
      expect(result.data).toEqual({
        createProvider: {
          __typename: 'ValidationError',
          issues: [{ path: ['input', 'config', 'host'], message: 'must be a public address' }],
        },
      });
      expect(JSON.stringify(result)).not.toMatch(/169\.254|metadata address/);
    });

    it('accepts a public host, a name that does not resolve yet, and a host the operator allows', async () => {
      const ctx = newOrg();
      const s = services();
      unwrap(await s.createProviderConfig(ctx, { name: 'public', kind: 'smtp', config: { host: 'relay.test' } }));
      unwrap(
        await s.createProviderConfig(ctx, { name: 'later', kind: 'smtp', config: { host: 'mx.nowhere.invalid' } }),
      );
      unwrap(
        await s.createProviderConfig(ctx, {
          name: 'hook',
          kind: 'webhook',
          config: { url: 'https://relay.test/hook' },
        }),
      );
      const allowing = services(['internal-relay.test', '10.20.0.0/16']);
      unwrap(
        await allowing.createProviderConfig(ctx, {
          name: 'internal',
          kind: 'smtp',
          config: { host: 'internal-relay.test' },
        }),
      );
      unwrap(await allowing.createProviderConfig(ctx, { name: 'range', kind: 'smtp', config: { host: '10.20.1.1' } }));
      expect(
        errorOf(
          await allowing.createProviderConfig(ctx, { name: 'other', kind: 'smtp', config: { host: '10.21.1.1' } }),
        ),
      ).toEqual(expect.objectContaining(refusal('host')));
    });

    it('an update that moves a provider there is refused and changes nothing', async () => {
      const ctx = newOrg();
      const s = services();
      const relay = unwrap(
        await s.createProviderConfig(ctx, { name: 'relay', kind: 'smtp', config: { host: 'relay.test', port: 25 } }),
      );
      const moved = await s.updateProviderConfig(ctx, { id: relay.id, config: { host: '127.0.0.1', port: 6379 } });
      expect(errorOf(moved)).toEqual(expect.objectContaining(refusal('host')));
      expect((await stored(relay.id)).settings).toMatchObject({ host: 'relay.test', port: 25 });
    });

    it('checks a host without connecting to it', async () => {
      let connections = 0;
      const server = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      try {
        const port = (server.address() as AddressInfo).port;
        const ctx = newOrg();
        // Loopback is allowed here (the harness's embedded-mode policy): accepted, never contacted.
        unwrap(
          await env.services.createProviderConfig(ctx, {
            name: 'l',
            kind: 'smtp',
            config: { host: '127.0.0.1', port },
          }),
        );
        expect(
          errorOf(
            await services().createProviderConfig(ctx, {
              name: 'r',
              kind: 'smtp',
              config: { host: '127.0.0.1', port },
            }),
          ),
        ).toEqual(expect.objectContaining(refusal('host')));
        expect(connections).toBe(0);
      } finally {
        await new Promise<void>((done) => server.close(() => done()));
      }
    });
  });
});
