// The provider directory builds one adapter per organization and channel, however many sends of
// a batch ask for it at once, so SMTP connections are shared and none is left open.
import { newId } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviderDirectory } from '../src/app/provider-directory.ts';
import { createMemoryRateLimiter, type OutboundMessage } from '../src/providers/index.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { DATABASES, newOrg, openDelivery, useSmtpRelay } from './harness.ts';

describe.each(DATABASES)('the provider directory (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;
  beforeAll(async () => {
    env = await openDelivery(open);
    smtp = await startSmtpFake();
  });
  afterAll(async () => {
    await smtp.close();
    await env.close();
  });

  it('shares one pool among concurrent sends, within its connection limit', async () => {
    const ctx = newOrg();
    await useSmtpRelay(env.services, ctx, smtp.port, { maxConnections: 2 });
    const directory = createProviderDirectory({
      handle: env.handle,
      encryptionKey: env.keys.encryptionKey,
      limiter: createMemoryRateLimiter(),
      publicBaseUrl: 'https://mail.example.test',
    });
    const before = smtp.connections();
    const message = (i: number): OutboundMessage => ({
      channel: 'email',
      messageId: newId(),
      from: { address: 'shop@example.com' },
      to: `p${i}@example.com`,
      subject: 'hi',
      html: '<p>hi</p>',
      text: 'hi',
      headers: {},
    });
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const provider = await directory.providerFor(ctx.organizationId, 'email');
        await provider!.send(message(i), () => {});
      }),
    );
    expect(smtp.messages).toHaveLength(20);
    expect(smtp.connections() - before).toBeLessThanOrEqual(2);
    await directory.close();
  });
});
