// Send requests from the bus (what journeys and campaigns publish): one message per idempotency
// key, however often a request arrives.
import { catalogue, createEvent, newId, unwrap } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySendRequest } from '../src/app/send-requests.ts';
import { DATABASES, newOrg, openDelivery, seedContact } from './harness.ts';

describe.each(DATABASES)('send requests from the bus (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  beforeAll(async () => {
    env = await openDelivery(open);
  });
  afterAll(() => env.close());

  it('queue one message per idempotency key, addressed from delivery`s copy of the contact', async () => {
    const ctx = newOrg();
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'step',
        channel: 'email',
        source: { html: '<p>Hi {{contact.firstName}}</p>', subject: 'Hi' },
      }),
    );
    const contactId = await seedContact(env.services, ctx.organizationId, { email: 'Step@Example.com' });
    const request = (key: string, contact: string | null = contactId) =>
      createEvent(catalogue.delivery.messageRequested, {
        organizationId: ctx.organizationId,
        subjectId: contact ?? newId(),
        correlationId: newId(),
        data: {
          channel: 'email',
          templateId: template.id,
          contactId: contact,
          address: null,
          context: { step: 3 },
          idempotencyKey: key,
          source: { kind: 'journey', id: 'run-1', stepId: 'step-3' },
        },
      });
    const first = request('run-1:step-3');
    expect(await applySendRequest(env.services.deps, first)).toBe(true);
    // The same event again, and another event with the same key: still one message.
    expect(await applySendRequest(env.services.deps, first)).toBe(false);
    expect(await applySendRequest(env.services.deps, request('run-1:step-3'))).toBe(true);
    // A contact delivery does not know has no address: nothing is queued.
    expect(await applySendRequest(env.services.deps, request('run-1:step-4', newId()))).toBe(true);

    const rows = await env.handle.rows<{
      address: string;
      status: string;
      source_kind: string;
      source_step_id: string;
    }>(
      sql`select address, status, source_kind, source_step_id from delivery.messages where organization_id = ${ctx.organizationId}`,
    );
    expect(rows).toEqual([
      { address: 'step@example.com', status: 'queued', source_kind: 'journey', source_step_id: 'step-3' },
    ]);
    const queued = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from delivery.outbox where organization_id = ${ctx.organizationId} and type = 'delivery.message.queued'`,
    );
    expect(queued[0]!.n).toBe(1);
  });
});
