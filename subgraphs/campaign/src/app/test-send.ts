// A test send: each variant of a campaign, in any status, to a few chosen addresses, as one send
// request per variant and address (bare addresses: no contact, no stats). Each call sends anew.
import {
  authorize,
  catalogue,
  createEvent,
  fail,
  NotFoundError,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents } from '@mauntic/platform';
import { z } from 'zod';
import { outbox } from '../db/schema.ts';
import { type CampaignRow, campaignOf } from './campaigns.ts';
import type { CampaignDeps } from './deps.ts';

export const sendTestInput = z.object({ id: z.uuid(), addresses: z.array(z.email()).min(1).max(10) });

export async function sendCampaignTest(
  deps: CampaignDeps,
  ctx: RequestContext,
  raw: z.input<typeof sendTestInput>,
): Promise<Result<CampaignRow>> {
  const access = authorize(ctx, 'campaign:write', sendTestInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const row = await campaignOf(deps.handle.db, organizationId, input.id);
  if (!row) return fail(new NotFoundError('Campaign', input.id));
  const issues = [
    ...(row.channel !== 'email' ? [{ path: ['input', 'id'], message: 'test sends go to email addresses' }] : []),
    ...(!row.variants.length ? [{ path: ['input', 'id'], message: 'the campaign has no template yet' }] : []),
  ];
  if (issues.length) return fail(new ValidationError(issues));
  const events = row.variants.flatMap((variant) =>
    input.addresses.map((address) =>
      createEvent(catalogue.delivery.messageRequested, {
        organizationId,
        subjectId: row.id,
        correlationId: ctx.correlationId,
        data: {
          channel: row.channel,
          templateId: variant.templateId,
          contactId: null,
          address,
          context: { campaignId: row.id, variant: variant.key, test: true, ...(row.utm ? { utm: row.utm } : {}) },
          // The request's correlation id makes each test send its own.
          idempotencyKey: `campaign-test:${row.id}:${variant.key}:${address}:${ctx.correlationId}`.slice(0, 200),
          source: { kind: 'campaign', id: row.id, stepId: 'test' },
        },
      }),
    ),
  );
  await appendEvents(deps.handle.db, outbox, events);
  return ok(row);
}
