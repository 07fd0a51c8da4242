// Outbound webhook endpoints: an organization's URLs subscribed to catalogued event types. The
// signing secret is returned once, when made or rotated, and kept sealed; a rotation keeps the
// previous secret signing for ROTATION_OVERLAP_MS so receivers can switch without losing events.

import {
  authorize,
  catalogueEntries,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
} from '@mauntic/kernel';
import {
  type EncryptionKey,
  OutboundAddressError,
  openSecret,
  outboundGuard,
  type PageWindow,
  pageOfOrganization,
  sealSecret,
} from '@mauntic/platform';
import { and, count, eq, sql } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { webhookEndpoints } from '../db/schema.ts';
import { WebhookEndpointLimitError, WebhookUrlRefusedError } from '../domain/errors.ts';
import { newWebhookSecret, ROTATION_OVERLAP_MS, secretPrefix } from '../domain/webhook.ts';
import type { IntegrationsDeps } from './deps.ts';

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
/** An endpoint with its signing secret, as it is returned once, when the secret is made. */
export type WebhookEndpointWithSecret = WebhookEndpointRow & { secret: string };

const EVENT_TYPES = new Set(catalogueEntries().map((d) => d.type));

const url = z
  .string()
  .trim()
  .max(2048)
  .pipe(z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }));
const eventTypes = z
  .array(z.string().refine((t) => EVENT_TYPES.has(t), 'not a catalogued event type'))
  .min(1)
  .max(100)
  .transform((types) => [...new Set(types)]);
const ids = z.array(z.uuid()).max(100);

const createInput = z.object({
  url,
  description: z.string().trim().max(500).default(''),
  eventTypes,
  segmentIds: ids.default([]),
  templateIds: ids.default([]),
  maxConcurrency: z.number().int().min(1).max(50).default(4),
});
const updateInput = z.object({
  id: z.uuid(),
  url: url.optional(),
  description: z.string().trim().max(500).optional(),
  eventTypes: eventTypes.optional(),
  segmentIds: ids.optional(),
  templateIds: ids.optional(),
  maxConcurrency: z.number().int().min(1).max(50).optional(),
});
const idInput = z.object({ id: z.uuid() });
const disableInput = z.object({ id: z.uuid(), reason: z.string().trim().max(500).optional() });

const PRIVATE_REFUSED = outboundGuard();
export const DEFAULT_MAX_WEBHOOK_ENDPOINTS = 25;
const SECRET_PURPOSE = 'mauntic.integrations.webhook-secret';

const sealContext = (row: { organizationId: string; id: string }) => [SECRET_PURPOSE, row.organizationId, row.id];
const seal = (key: EncryptionKey, row: { organizationId: string; id: string }, secret: string) =>
  sealSecret(secret, key, sealContext(row));

/** The secrets that sign a delivery now: the current one, and the previous one during its overlap. */
export function signingSecrets(deps: Pick<IntegrationsDeps, 'encryptionKey'>, row: WebhookEndpointRow, now: Date) {
  const secrets = [openSecret(row.secretSealed, deps.encryptionKey, sealContext(row))];
  if (row.previousSecretSealed && row.previousSecretExpiresAt && row.previousSecretExpiresAt > now)
    secrets.push(openSecret(row.previousSecretSealed, deps.encryptionKey, sealContext(row)));
  return secrets;
}

/**
 * Refuses URLs that aim at the platform's own network, checked on the addresses the host resolves
 * to now (every connection checks again, so a name rebound later is refused then). URLs with
 * credentials are refused: secrets belong in the signature, not in a URL shown in logs.
 */
async function checkUrl(deps: IntegrationsDeps, raw: string): Promise<WebhookUrlRefusedError | undefined> {
  const parsed = new URL(raw);
  if (parsed.username || parsed.password) return new WebhookUrlRefusedError(raw, 'it carries credentials');
  try {
    await (deps.outbound ?? PRIVATE_REFUSED).assertPublicHost(parsed.hostname);
  } catch (error) {
    if (error instanceof OutboundAddressError) {
      // The address and its class are for the operator; the organization learns only the rule.
      deps.logger.info({ err: error }, 'refused a webhook URL');
      return new WebhookUrlRefusedError(raw, 'it is not a public address');
    }
    // A name that does not resolve yet is accepted: every delivery checks the address it reaches.
    if (typeof (error as { code?: unknown }).code !== 'string') throw error;
  }
  return undefined;
}

export async function createWebhookEndpoint(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof createInput>,
): Promise<Result<WebhookEndpointWithSecret>> {
  const access = authorize(ctx, 'integrations:admin', createInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const refused = await checkUrl(deps, input.url);
  if (refused) return fail(refused);
  const id = newId();
  const secret = newWebhookSecret();
  const limit = deps.maxWebhookEndpoints ?? DEFAULT_MAX_WEBHOOK_ENDPOINTS;
  const row = await deps.handle.db.transaction(async (tx) => {
    // Counted and inserted under the organization's lock: concurrent creates cannot pass the limit together.
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtext(${`integrations.webhook-endpoints:${organizationId}`}))`,
    );
    const [existing] = await tx
      .select({ n: count() })
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.organizationId, organizationId));
    if (existing!.n >= limit) return null;
    const [created] = await tx
      .insert(webhookEndpoints)
      .values({
        id,
        organizationId,
        ...input,
        secretSealed: seal(deps.encryptionKey, { organizationId, id }, secret),
        secretPrefix: secretPrefix(secret),
      })
      .returning();
    return created!;
  });
  return row ? ok({ ...row, secret }) : fail(new WebhookEndpointLimitError(limit));
}

export async function updateWebhookEndpoint(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof updateInput>,
): Promise<Result<WebhookEndpointRow>> {
  const access = authorize(ctx, 'integrations:admin', updateInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { id, ...changes } = input;
  if (changes.url) {
    const refused = await checkUrl(deps, changes.url);
    if (refused) return fail(refused);
  }
  return changeEndpoint(deps, organizationId, id, { ...changes, updatedAt: now(deps) });
}

/** Deletes the endpoint and its delivery log; nothing more is sent to it. */
export async function deleteWebhookEndpoint(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof idInput>,
): Promise<Result<WebhookEndpointRow>> {
  const access = authorize(ctx, 'integrations:admin', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [row] = await deps.handle.db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, input.id), eq(webhookEndpoints.organizationId, organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('WebhookEndpoint', input.id));
}

/** A new signing secret; the current one keeps signing (as a second v1) for ROTATION_OVERLAP_MS. */
export async function rotateWebhookSecret(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof idInput>,
): Promise<Result<WebhookEndpointWithSecret>> {
  const access = authorize(ctx, 'integrations:admin', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const secret = newWebhookSecret();
  const at = now(deps);
  const changed = await changeEndpoint(deps, organizationId, input.id, {
    // The previous secret is the current one as stored: it stays sealed for the same row.
    previousSecretSealed: webhookEndpoints.secretSealed,
    previousSecretExpiresAt: new Date(at.getTime() + ROTATION_OVERLAP_MS),
    secretSealed: seal(deps.encryptionKey, { organizationId, id: input.id }, secret),
    secretPrefix: secretPrefix(secret),
    updatedAt: at,
  });
  return changed.ok ? ok({ ...changed.value, secret }) : changed;
}

/** Enabled again: its pending deliveries go out, and its failure count starts over. */
export async function enableWebhookEndpoint(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof idInput>,
): Promise<Result<WebhookEndpointRow>> {
  const access = authorize(ctx, 'integrations:admin', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return changeEndpoint(deps, organizationId, input.id, {
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    consecutiveFailures: 0,
    failingSince: null,
    updatedAt: now(deps),
  });
}

/** Disabled by a person: no new event is recorded for it, and its pending deliveries wait. */
export async function disableWebhookEndpoint(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof disableInput>,
): Promise<Result<WebhookEndpointRow>> {
  const access = authorize(ctx, 'integrations:admin', disableInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const at = now(deps);
  return changeEndpoint(deps, organizationId, input.id, {
    enabled: false,
    disabledReason: input.reason || 'disabled by a user',
    disabledAt: at,
    updatedAt: at,
  });
}

export async function getWebhookEndpoint(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  id: string,
): Promise<Result<WebhookEndpointRow | null>> {
  const access = authorize(ctx, 'integrations:read', idInput, { id }, []);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [row] = await deps.handle.db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, input.id), eq(webhookEndpoints.organizationId, organizationId)));
  return ok(row ?? null);
}

export async function listWebhookEndpoints(deps: IntegrationsDeps, ctx: RequestContext, window: PageWindow) {
  const access = authorize(ctx, 'integrations:read');
  if (!access.ok) return access;
  return ok(await pageOfOrganization(deps.handle.db, webhookEndpoints, access.value.organizationId, window));
}

const now = (deps: IntegrationsDeps) => deps.now?.() ?? new Date();

/** Changes one endpoint of the organization; NotFound when it has none with that id. */
async function changeEndpoint(
  deps: IntegrationsDeps,
  organizationId: string,
  id: string,
  changes: PgUpdateSetSource<typeof webhookEndpoints>,
): Promise<Result<WebhookEndpointRow>> {
  const [row] = await deps.handle.db
    .update(webhookEndpoints)
    .set(changes)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.organizationId, organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('WebhookEndpoint', id));
}
