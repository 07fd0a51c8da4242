// What an organization reads of a failed send: a provider it could not reach shows a generic
// reason through the API, while the message row keeps the connection's own words for operators.
import { type AddressInfo, createServer } from 'node:net';
import { newId, unwrap } from '@mauntic/kernel';
import { createLogger } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { graphql } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryEngine } from '../../../workers/delivery-engine/src/engine.ts';
import { schema } from '../src/graphql/index.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, useSmtpRelay } from './harness.ts';

const logger = createLogger('test', 'silent');

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(OWN_DATABASES)('failure reasons an organization reads (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let engine: DeliveryEngine;
  let smtp: SmtpFake;
  beforeAll(async () => {
    env = await openDelivery(open);
    engine = startEngineFor(env);
    smtp = await startSmtpFake();
  });
  afterAll(async () => {
    await engine?.stop();
    await smtp?.close();
    await env?.close();
  });

  async function sendThrough(port: number) {
    const ctx = newOrg();
    await useSmtpRelay(env.services, ctx, port);
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'receipt',
        channel: 'email',
        category: 'transactional',
        source: {
          mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>',
          subject: 'Receipt',
          fromAddress: 'shop@example.com',
        },
      }),
    );
    const message = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: 'ada@example.com',
        idempotencyKey: newId(),
      }),
    );
    await drain(engine);
    const [row] = await env.handle.rows<{ error: string | null }>(
      sql`select error from delivery.messages where id = ${message.id}`,
    );
    const result = await graphql({
      schema,
      source: `query($id: ID!) { message(id: $id) { error } messages(first: 5) { edges { node { error } } } }`,
      variableValues: { id: message.id },
      contextValue: { request: ctx, services: env.services, log: logger },
    });
    expect(result.errors).toBeUndefined();
    const data = result.data as { message: { error: string }; messages: { edges: { node: { error: string } }[] } };
    expect(data.messages.edges.map((e) => e.node.error)).toEqual([data.message.error]);
    return { stored: row!.error, shown: data.message.error };
  }

  it('a refused connection reads "could not connect to the provider"; the row keeps the address and port', async () => {
    const port = await closedPort();
    const { stored, shown } = await sendThrough(port);
    expect(stored).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(shown).toBe('provider_error: could not connect to the provider');
  });

  it("a provider's own refusal reads as it said it", async () => {
    smtp.rejectRecipients(550);
    const { stored, shown } = await sendThrough(smtp.port);
    expect(shown).toBe(stored);
    expect(shown).toMatch(/^provider_error: SMTP .*550/);
  });
});
