// An organization's sending providers. Secret settings (passwords, API keys, private keys) are
// sealed with AES-256-GCM, bound to the organization and the provider row, and never returned:
// the API shows only which secret fields are set.
import { authorize, fail, NotFoundError, newId, ok, type RequestContext, ValidationError } from '@mauntic/kernel';
import {
  type Executor,
  OutboundAddressError,
  outboundGuard,
  type PageWindow,
  pageOfOrganization,
} from '@mauntic/platform';
import { and, eq, ne } from 'drizzle-orm';
import { z } from 'zod';
import { providers } from '../db/schema.ts';
import { ProviderNameTakenError } from '../domain/errors.ts';
import {
  CHANNEL_OF,
  decryptSecrets,
  type EncryptionKey,
  encryptSecrets,
  PROVIDER_KINDS,
  type ProviderKind,
  parseProviderConfig,
  secretFields,
} from '../providers/index.ts';
import type { DeliveryDeps } from './deps.ts';

export type ProviderRow = typeof providers.$inferSelect;

export const providerInput = z.object({
  name: z.string().trim().min(1).max(100),
  kind: z.enum(PROVIDER_KINDS as [ProviderKind, ...ProviderKind[]]),
  /** Settings and secrets as one flat object; secret fields are split off and sealed. */
  config: z.record(z.string(), z.unknown()).default({}),
  isDefault: z.boolean().default(false),
  ratePerSecond: z.number().int().min(1).max(100_000).nullable().default(null),
  failoverProviderId: z.uuid().nullable().default(null),
});

export const providerUpdate = z.object({
  id: z.uuid(),
  name: z.string().trim().min(1).max(100).optional(),
  /** Fields given replace the stored ones; secret fields left out keep their sealed values. */
  config: z.record(z.string(), z.unknown()).optional(),
  isDefault: z.boolean().optional(),
  ratePerSecond: z.number().int().min(1).max(100_000).nullable().optional(),
  failoverProviderId: z.uuid().nullable().optional(),
});

const configError = (issues: { path: string; message: string }[]) =>
  new ValidationError(
    issues.map((i) => ({ path: ['input', 'config', ...i.path.split('.').filter(Boolean)], message: i.message })),
  );

/** The settings that say where a provider connects: a host name, or a URL. */
const ADDRESS_SETTINGS: Partial<Record<ProviderKind, readonly string[]>> = {
  smtp: ['host'],
  webhook: ['url'],
  ses: ['endpoint'],
  sendgrid: ['baseUrl'],
  mailgun: ['url'],
  twilio: ['baseUrl'],
  plivo: ['baseUrl'],
  fcm: ['endpoint'],
};

const PRIVATE_REFUSED = outboundGuard();

/**
 * Refuses settings that aim at the platform's own network (loopback, private, link-local, cloud
 * metadata) unless the operator allows the host, without connecting anywhere. A name that does
 * not resolve yet is accepted: every connection checks the address it reaches anyway.
 */
async function checkAddresses(
  deps: DeliveryDeps,
  kind: ProviderKind,
  settings: Record<string, unknown>,
): Promise<ValidationError | undefined> {
  const guard = deps.outbound ?? PRIVATE_REFUSED;
  const issues: { path: string[]; message: string }[] = [];
  for (const field of ADDRESS_SETTINGS[kind] ?? []) {
    const value = settings[field];
    if (typeof value !== 'string') continue;
    try {
      await guard.assertPublicHost(field === 'host' ? value : new URL(value).hostname);
    } catch (error) {
      if (error instanceof OutboundAddressError) {
        // The address and its class are for the operator; the organization learns only the rule.
        deps.logger.info({ kind, field, err: error }, 'refused a provider address');
        issues.push({ path: ['input', 'config', field], message: 'must be a public address' });
      } else if (typeof (error as { code?: unknown }).code !== 'string') throw error; // not a DNS failure
    }
  }
  return issues.length ? new ValidationError(issues) : undefined;
}

/** A provider row's secret settings, unsealed with the key they are bound to. */
export function openSecrets(
  key: Buffer,
  row: { id: string; organizationId: string; secrets: string | null },
): Record<string, string> {
  return row.secrets
    ? decryptSecrets(row.secrets, key as EncryptionKey, { organizationId: row.organizationId, providerId: row.id })
    : {};
}

/** Which secret fields are set, without their values. */
export function secretFieldsSet(deps: DeliveryDeps, row: ProviderRow): string[] {
  const secrets = openSecrets(deps.encryptionKey, row);
  return Object.keys(secrets).filter((k) => secrets[k]);
}

async function checkFailover(tx: Executor, org: string, channel: string, id: string | null, self?: string) {
  if (!id) return ok(null);
  if (id === self)
    return fail(new ValidationError([{ path: ['input', 'failoverProviderId'], message: 'cannot be itself' }]));
  const [row] = await tx
    .select({ channel: providers.channel })
    .from(providers)
    .where(and(eq(providers.organizationId, org), eq(providers.id, id)));
  if (!row) return fail(new NotFoundError('Provider', id));
  if (row.channel !== channel)
    return fail(
      new ValidationError([{ path: ['input', 'failoverProviderId'], message: `sends ${row.channel}, not ${channel}` }]),
    );
  return ok(id);
}

async function clearDefault(tx: Executor, org: string, channel: string, except: string) {
  await tx
    .update(providers)
    .set({ isDefault: false, updatedAt: new Date() })
    .where(
      and(
        eq(providers.organizationId, org),
        eq(providers.channel, channel),
        eq(providers.isDefault, true),
        ne(providers.id, except),
      ),
    );
}

async function nameTaken(tx: Executor, org: string, name: string, except?: string) {
  const [row] = await tx
    .select({ id: providers.id })
    .from(providers)
    .where(
      and(eq(providers.organizationId, org), eq(providers.name, name), except ? ne(providers.id, except) : undefined),
    );
  return Boolean(row);
}

export async function createProviderConfig(
  deps: DeliveryDeps,
  ctx: RequestContext,
  raw: z.input<typeof providerInput>,
) {
  const access = authorize(ctx, 'delivery:admin', providerInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { name, kind, config, isDefault, ratePerSecond, failoverProviderId } = input;
  const parsed = parseProviderConfig(kind, config);
  if (!parsed.ok) return fail(configError(parsed.error.issues));
  const refused = await checkAddresses(deps, kind, parsed.settings);
  if (refused) return fail(refused);
  const channel = CHANNEL_OF[kind];
  const id = newId();
  return deps.handle.db.transaction(async (tx) => {
    if (await nameTaken(tx, organizationId, name)) return fail(new ProviderNameTakenError(name));
    const failover = await checkFailover(tx, organizationId, channel, failoverProviderId);
    if (!failover.ok) return failover;
    if (isDefault) await clearDefault(tx, organizationId, channel, id);
    const [row] = await tx
      .insert(providers)
      .values({
        id,
        organizationId,
        name,
        kind,
        channel,
        settings: parsed.settings as Record<string, unknown>,
        secrets: seal(deps, organizationId, id, parsed.secrets as Record<string, unknown>),
        isDefault,
        ratePerSecond,
        failoverProviderId: failover.value,
      })
      .returning();
    return ok(row!);
  });
}

function seal(deps: DeliveryDeps, organizationId: string, providerId: string, secrets: Record<string, unknown>) {
  const present = Object.fromEntries(
    Object.entries(secrets).filter(([, v]) => typeof v === 'string' && v !== ''),
  ) as Record<string, string>;
  if (Object.keys(present).length === 0) return null;
  return encryptSecrets(present, deps.encryptionKey as EncryptionKey, { organizationId, providerId });
}

export async function updateProviderConfig(
  deps: DeliveryDeps,
  ctx: RequestContext,
  raw: z.input<typeof providerUpdate>,
) {
  const access = authorize(ctx, 'delivery:admin', providerUpdate, raw);
  if (!access.ok) return access;
  const { organizationId, input: patch } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(providers)
      .where(and(eq(providers.organizationId, organizationId), eq(providers.id, patch.id)))
      .for('update');
    if (!current) return fail(new NotFoundError('Provider', patch.id));
    const kind = current.kind as ProviderKind;
    const values: Partial<ProviderRow> = { updatedAt: new Date() };
    if (patch.name !== undefined && patch.name !== current.name) {
      if (await nameTaken(tx, organizationId, patch.name, current.id))
        return fail(new ProviderNameTakenError(patch.name));
      values.name = patch.name;
    }
    if (patch.config !== undefined) {
      const stored = openSecrets(deps.encryptionKey, current);
      const parsed = parseProviderConfig(kind, { ...current.settings, ...stored, ...patch.config });
      if (!parsed.ok) return fail(configError(parsed.error.issues));
      const refused = await checkAddresses(deps, kind, parsed.settings);
      if (refused) return fail(refused);
      values.settings = parsed.settings as Record<string, unknown>;
      values.secrets = seal(deps, current.organizationId, current.id, parsed.secrets as Record<string, unknown>);
    }
    if (patch.ratePerSecond !== undefined) values.ratePerSecond = patch.ratePerSecond;
    if (patch.failoverProviderId !== undefined) {
      const failover = await checkFailover(tx, organizationId, current.channel, patch.failoverProviderId, current.id);
      if (!failover.ok) return failover;
      values.failoverProviderId = failover.value;
    }
    if (patch.isDefault !== undefined) {
      if (patch.isDefault) await clearDefault(tx, organizationId, current.channel, current.id);
      values.isDefault = patch.isDefault;
    }
    const [row] = await tx.update(providers).set(values).where(eq(providers.id, current.id)).returning();
    return ok(row!);
  });
}

export async function deleteProviderConfig(deps: DeliveryDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'delivery:admin');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [row] = await tx
      .delete(providers)
      .where(and(eq(providers.organizationId, organizationId), eq(providers.id, id)))
      .returning();
    if (!row) return fail(new NotFoundError('Provider', id));
    await tx
      .update(providers)
      .set({ failoverProviderId: null, updatedAt: new Date() })
      .where(and(eq(providers.organizationId, organizationId), eq(providers.failoverProviderId, id)));
    return ok(row);
  });
}

export async function listProviderConfigs(deps: DeliveryDeps, ctx: RequestContext, window: PageWindow) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  return ok(await pageOfOrganization(deps.handle.db, providers, access.value.organizationId, window));
}

export { secretFields };
