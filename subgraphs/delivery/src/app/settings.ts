// An organization's sending policy: frequency caps per channel, quiet hours, default sender.
import { authorize, ok, type RequestContext } from '@mauntic/kernel';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { settings } from '../db/schema.ts';
import type { DeliveryDeps } from './deps.ts';

export type SettingsRow = typeof settings.$inferSelect;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');
const cap = z.object({
  max: z.number().int().min(1).max(10_000),
  periodSeconds: z.number().int().min(60).max(31_536_000),
});

export const settingsInput = z.object({
  frequencyCaps: z
    .object({ email: cap.nullable().optional(), sms: cap.nullable().optional(), push: cap.nullable().optional() })
    .optional(),
  quietHours: z
    .object({ start: hhmm, end: hhmm, mode: z.enum(['defer', 'drop']) })
    .refine((q) => q.start !== q.end, { message: 'start and end must differ', path: ['end'] })
    .nullable()
    .optional(),
  defaultFromName: z.string().max(200).nullable().optional(),
  defaultFromAddress: z.email().nullable().optional(),
});

const empty = (organizationId: string): SettingsRow => ({
  organizationId,
  frequencyCaps: {},
  quietHours: null,
  defaultFromName: null,
  defaultFromAddress: null,
  updatedAt: new Date(0),
});

export async function settingsOf(deps: DeliveryDeps, organizationId: string): Promise<SettingsRow> {
  const [row] = await deps.handle.db.select().from(settings).where(eq(settings.organizationId, organizationId));
  return row ?? empty(organizationId);
}

/** The caller's sending policy; an organization that never set one has the empty policy. */
export async function getSettings(deps: DeliveryDeps, ctx: RequestContext) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  return ok(await settingsOf(deps, access.value.organizationId));
}

/** Changes what the input names; a null cap removes it. */
export async function updateSettings(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof settingsInput>) {
  const access = authorize(ctx, 'delivery:admin', settingsInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const current = await settingsOf(deps, organizationId);
  const caps = { ...current.frequencyCaps };
  for (const [channel, value] of Object.entries(input.frequencyCaps ?? {})) {
    if (value) caps[channel] = value;
    else delete caps[channel];
  }
  const next = {
    frequencyCaps: caps,
    quietHours: input.quietHours === undefined ? current.quietHours : input.quietHours,
    defaultFromName: input.defaultFromName === undefined ? current.defaultFromName : input.defaultFromName,
    defaultFromAddress: input.defaultFromAddress === undefined ? current.defaultFromAddress : input.defaultFromAddress,
    updatedAt: new Date(),
  };
  const [row] = await deps.handle.db
    .insert(settings)
    .values({ organizationId, ...next })
    .onConflictDoUpdate({ target: settings.organizationId, set: next })
    .returning();
  return ok(row!);
}
