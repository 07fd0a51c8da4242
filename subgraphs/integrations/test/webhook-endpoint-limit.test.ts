// The per-organization webhook endpoint limit on a real database (Postgres, PGlite): creates past
// it get a typed error and write nothing, concurrent creates cannot pass it together, other
// organizations are not affected, and deleting an endpoint frees its place.
import { unwrap } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegrationsServices } from '../src/app/services.ts';
import { DEFAULT_MAX_WEBHOOK_ENDPOINTS } from '../src/app/webhook-endpoints.ts';
import { WebhookEndpointLimitError } from '../src/domain/errors.ts';
import { DATABASES, encryptionKey, LOOPBACK_ALLOWED, logger, newOrg, openIntegrations } from './harness.ts';

const LIMIT = 3;

describe.each(DATABASES)('the webhook endpoint limit (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  let services: ReturnType<typeof createIntegrationsServices>;
  beforeAll(async () => {
    env = await openIntegrations(open);
    services = createIntegrationsServices({
      handle: env.handle,
      logger,
      encryptionKey,
      outbound: LOOPBACK_ALLOWED,
      maxWebhookEndpoints: LIMIT,
    });
  });
  afterAll(() => env.close());

  const create = (org: ReturnType<typeof newOrg>, n: number, using = services) =>
    using.createWebhookEndpoint(org, { url: `http://127.0.0.1:9/hook-${n}`, eventTypes: ['crm.segment.entered'] });
  const endpoints = async (org: ReturnType<typeof newOrg>) =>
    (
      await env.handle.rows<{ n: number }>(
        sql`select count(*)::int as n from integrations.webhook_endpoints where organization_id = ${org.organizationId}`,
      )
    )[0]!.n;

  it('refuses the endpoint past the limit with a typed error, writes nothing, and frees a place on delete', async () => {
    const org = newOrg();
    const made = [];
    for (let n = 0; n < LIMIT; n++) made.push(unwrap(await create(org, n)));
    const refused = await create(org, LIMIT);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error).toBeInstanceOf(WebhookEndpointLimitError);
    expect(refused.error).toMatchObject({ code: 'WEBHOOK_ENDPOINT_LIMIT', limit: LIMIT });
    expect(await endpoints(org)).toBe(LIMIT);
    // Another organization has its own limit.
    const other = newOrg();
    unwrap(await create(other, 0));
    // A deleted endpoint frees its place.
    unwrap(await services.deleteWebhookEndpoint(org, { id: made[0]!.id }));
    unwrap(await create(org, LIMIT + 1));
    expect((await create(org, LIMIT + 2)).ok).toBe(false);
    expect(await endpoints(org)).toBe(LIMIT);
  });

  it('lets exactly the limit through when creates race', async () => {
    const org = newOrg();
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => create(org, n)));
    expect(results.filter((r) => r.ok)).toHaveLength(LIMIT);
    for (const r of results.filter((r) => !r.ok)) expect(!r.ok && r.error).toBeInstanceOf(WebhookEndpointLimitError);
    expect(await endpoints(org)).toBe(LIMIT);
  });

  it(`allows ${DEFAULT_MAX_WEBHOOK_ENDPOINTS} endpoints when no limit is configured`, async () => {
    const org = newOrg();
    for (let n = 0; n < DEFAULT_MAX_WEBHOOK_ENDPOINTS; n++) unwrap(await create(org, n, env.services));
    const refused = await create(org, DEFAULT_MAX_WEBHOOK_ENDPOINTS, env.services);
    expect(!refused.ok && refused.error).toMatchObject({ limit: DEFAULT_MAX_WEBHOOK_ENDPOINTS });
    expect(await endpoints(org)).toBe(DEFAULT_MAX_WEBHOOK_ENDPOINTS);
  });
});
