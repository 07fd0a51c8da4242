// The sender killed with SIGKILL twice in the middle of a launch and started again: every
// recipient's send request was written once, none lost, none repeated.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newId, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import { createLogger, openDatabase, rowsOf, runMigrations } from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS, testServices } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createCampaignServices } from '../../../subgraphs/campaign/src/app/services.ts';
import { campaignModule } from '../../../subgraphs/campaign/src/module.ts';

const RECIPIENTS = 20_000;

function startSender(): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./fixtures/sender-process.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, script], {
      env: {
        ...process.env,
        DATABASE_URL: testServices.databaseUrl,
        LOG_LEVEL: 'silent',
        SENDER_BATCH_SIZE: '500',
        SENDER_POLL_MS: '20',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.once('error', reject);
    child.stdout!.once('data', () => resolve(child));
  });
}

const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

describe('the campaign sender killed with SIGKILL mid-launch', () => {
  it('neither loses nor repeats a recipient', async () => {
    const handle = await openDatabase({ url: testServices.databaseUrl, maxConnections: 3 });
    await runMigrations(handle, campaignModule().migrations);
    const org = newId() as OrganizationId;
    const segment = newId();
    const count = async (query: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await handle.db.execute(query))[0]!.n;
    await handle.db.execute(sql`
      insert into campaign.contacts (id, organization_id) select gen_random_uuid(), ${org}::uuid
      from generate_series(1, ${RECIPIENTS})`);
    await handle.db.execute(sql`
      insert into campaign.segment_memberships (organization_id, segment_id, contact_id)
      select ${org}::uuid, ${segment}::uuid, id from campaign.contacts where organization_id = ${org}`);
    const ctx: RequestContext = {
      correlationId: newId(),
      actor: { type: 'user', id: newId() },
      organizationId: org,
      role: 'owner',
      scopes: ['*:read', '*:write', '*:admin'],
    };
    const services = createCampaignServices({
      handle,
      logger: createLogger('crash-test', 'silent'),
      now: () => new Date(),
    });
    const created = await services.createCampaign(ctx, {
      name: 'Crash',
      channel: 'email',
      variants: [{ key: 'A', templateId: newId() }],
      segmentIds: [segment],
    });
    if (!created.ok) throw created.error;
    const campaignId = created.value.id;
    expect((await services.launchCampaign(ctx, { id: campaignId })).ok).toBe(true);
    const requested = () =>
      count(sql`select count(*)::int as n from campaign.outbox
                where type = 'delivery.message.requested' and organization_id = ${org}`);

    for (const killAt of [RECIPIENTS / 4, RECIPIENTS / 2]) {
      const sender = await startSender();
      while ((await requested()) < killAt) await new Promise((r) => setTimeout(r, 5));
      await kill(sender);
      // Killed mid-launch, not after it.
      expect(await requested()).toBeLessThan(RECIPIENTS);
    }
    const last = await startSender();
    const status = async () =>
      rowsOf<{ status: string }>(
        await handle.db.execute(sql`select status from campaign.campaigns where id = ${campaignId}`),
      )[0]!.status;
    const deadline = Date.now() + 120_000;
    while ((await status()) !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await kill(last);

    expect(await status()).toBe('completed');
    const [figures] = rowsOf<{ requests: number; keys: number; contacts: number }>(
      await handle.db.execute(sql`
        select count(*)::int as requests,
               count(distinct envelope::jsonb #>> '{data,idempotencyKey}')::int as keys,
               count(distinct envelope::jsonb #>> '{data,contactId}')::int as contacts
        from campaign.outbox where type = 'delivery.message.requested' and organization_id = ${org}`),
    );
    // Nobody repeated, nobody lost.
    expect(figures).toEqual({ requests: RECIPIENTS, keys: RECIPIENTS, contacts: RECIPIENTS });
    await handle.close();
  }, 240_000);
});
