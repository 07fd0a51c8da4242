// IP pools: an organization's sending IPs in named pools, each IP with its weight, its warm-up
// curve and start date, and its reputation. A sending domain is assigned a pool; email from a
// domain without one leaves from the organization's default pool. The engine's side (which IP a
// message takes) is sending-ips.ts.
import { isIP } from 'node:net';
import { authorize, fail, NotFoundError, newId, ok, type RequestContext } from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { and, asc, eq, inArray, ne } from 'drizzle-orm';
import { z } from 'zod';
import { ipPools, poolIps, sendingDomains, sendingReputation } from '../db/schema.ts';
import { IpPoolNameTakenError, SendingIpNotAllowedError, SendingIpTakenError } from '../domain/errors.ts';
import {
  type Caps,
  DEFAULT_WARMUP,
  decayed,
  type ReputationState,
  reputationState,
  scoreOf,
  type WarmupSchedule,
  warmupCaps,
} from '../domain/warmup.ts';
import type { DeliveryDeps } from './deps.ts';
import { viewOf as sendingDomainView } from './sending-domains.ts';

type PoolRow = typeof ipPools.$inferSelect;
type PoolIpRow = typeof poolIps.$inferSelect;

export interface PoolIpView {
  id: string;
  ip: string;
  weight: number;
  warmup: WarmupSchedule | null;
  warmupStartedOn: string | null;
  /** Its caps per provider group today and this hour (Infinity: none), before any throttling. */
  caps: Caps;
  reputation: number;
  state: ReputationState;
}

export interface IpPoolView extends PoolRow {
  ips: PoolIpView[];
}

const name = z.string().trim().min(1).max(100);
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date such as 2026-12-07')
  .refine(
    (v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v),
    'not a date',
  );
const schedule = z.object({
  /** Messages a day per provider group on the first days. */
  daily: z.array(z.number().int().min(0).max(100_000_000)).min(1).max(90),
  growth: z.number().min(1).max(10),
  hourlyShare: z.number().min(0.01).max(1),
});
const ip = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => isIP(v) !== 0, 'expected an IPv4 or IPv6 address');

export const createPoolInput = z.object({ name, isDefault: z.boolean().optional() });
export const updatePoolInput = z.object({ id: z.uuid(), name: name.optional(), isDefault: z.boolean().optional() });
export const addPoolIpInput = z.object({
  poolId: z.uuid(),
  ip,
  weight: z.number().int().min(1).max(1000).optional(),
  /** Day 1 of its warm-up (UTC); today when absent. */
  warmupStartedOn: isoDate.optional(),
  /** Its warm-up curve: BillionMail's default when absent; null for an IP that is warm already. */
  warmup: schedule.nullable().optional(),
});
export const removePoolIpInput = z.object({ poolId: z.uuid(), ip });
export const assignPoolInput = z.object({ sendingDomainId: z.uuid(), poolId: z.uuid().nullable() });
const byId = z.object({ id: z.uuid() });

async function viewsOf(db: Executor, deps: DeliveryDeps, organizationId: string, pools: PoolRow[]) {
  if (!pools.length) return [];
  const [ips, reputation] = await Promise.all([
    db
      .select()
      .from(poolIps)
      .where(
        and(
          eq(poolIps.organizationId, organizationId),
          inArray(
            poolIps.poolId,
            pools.map((p) => p.id),
          ),
        ),
      )
      .orderBy(asc(poolIps.createdAt), asc(poolIps.ip)),
    db
      .select()
      .from(sendingReputation)
      .where(and(eq(sendingReputation.organizationId, organizationId), eq(sendingReputation.kind, 'ip'))),
  ]);
  const now = deps.now();
  const penalty = new Map(reputation.map((r) => [r.subject, decayed(r.points, r.updatedAt, now)]));
  const view = (row: PoolIpRow): PoolIpView => {
    const score = scoreOf(penalty.get(row.ip) ?? 0);
    return {
      id: row.id,
      ip: row.ip,
      weight: row.weight,
      warmup: row.warmup,
      warmupStartedOn: row.warmupStartedOn,
      caps: warmupCaps(row.warmup, row.warmupStartedOn, now),
      reputation: score,
      state: reputationState(score),
    };
  };
  return pools.map((pool) => ({ ...pool, ips: ips.filter((i) => i.poolId === pool.id).map(view) }));
}

async function poolOf(db: Executor, organizationId: string, id: string, forUpdate = false) {
  const query = db
    .select()
    .from(ipPools)
    .where(and(eq(ipPools.organizationId, organizationId), eq(ipPools.id, id)));
  const [row] = forUpdate ? await query.for('update') : await query;
  return row;
}

async function nameTaken(db: Executor, organizationId: string, poolName: string, except?: string) {
  const [row] = await db
    .select({ id: ipPools.id })
    .from(ipPools)
    .where(
      and(
        eq(ipPools.organizationId, organizationId),
        eq(ipPools.name, poolName),
        except ? ne(ipPools.id, except) : undefined,
      ),
    );
  return Boolean(row);
}

/** Makes `id` the organization's only default pool. */
async function makeDefault(db: Executor, organizationId: string, id: string) {
  await db
    .update(ipPools)
    .set({ isDefault: false, updatedAt: new Date() })
    .where(and(eq(ipPools.organizationId, organizationId), eq(ipPools.isDefault, true), ne(ipPools.id, id)));
}

export async function listIpPools(deps: DeliveryDeps, ctx: RequestContext) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const rows = await deps.handle.db
    .select()
    .from(ipPools)
    .where(eq(ipPools.organizationId, organizationId))
    .orderBy(asc(ipPools.name));
  return ok(await viewsOf(deps.handle.db, deps, organizationId, rows));
}

export async function getIpPool(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof byId>) {
  const access = authorize(ctx, 'delivery:read', byId, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const row = await poolOf(deps.handle.db, organizationId, input.id);
  // Absent (or another organization's) reads as null, as `sendingDomain` does.
  return ok(row ? (await viewsOf(deps.handle.db, deps, organizationId, [row]))[0]! : null);
}

export async function createIpPool(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof createPoolInput>) {
  const access = authorize(ctx, 'delivery:admin', createPoolInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    if (await nameTaken(tx, organizationId, input.name)) return fail(new IpPoolNameTakenError(input.name));
    const id = newId();
    if (input.isDefault) await makeDefault(tx, organizationId, id);
    const [row] = await tx
      .insert(ipPools)
      .values({ id, organizationId, name: input.name, isDefault: input.isDefault ?? false })
      .returning();
    return ok({ ...row!, ips: [] } as IpPoolView);
  });
}

export async function updateIpPool(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof updatePoolInput>) {
  const access = authorize(ctx, 'delivery:admin', updatePoolInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const current = await poolOf(tx, organizationId, input.id, true);
    if (!current) return fail(new NotFoundError('IpPool', input.id));
    if (input.name !== undefined && (await nameTaken(tx, organizationId, input.name, current.id)))
      return fail(new IpPoolNameTakenError(input.name));
    if (input.isDefault) await makeDefault(tx, organizationId, current.id);
    const [row] = await tx
      .update(ipPools)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.isDefault !== undefined ? { isDefault: input.isDefault } : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(ipPools.organizationId, organizationId), eq(ipPools.id, current.id)))
      .returning();
    return ok((await viewsOf(tx, deps, organizationId, [row!]))[0]!);
  });
}

/** Removes the pool and its IPs; its sending domains fall back to the default pool. */
export async function deleteIpPool(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof byId>) {
  const access = authorize(ctx, 'delivery:admin', byId, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const current = await poolOf(tx, organizationId, input.id, true);
    if (!current) return fail(new NotFoundError('IpPool', input.id));
    const view = (await viewsOf(tx, deps, organizationId, [current]))[0]!;
    await tx.delete(poolIps).where(and(eq(poolIps.organizationId, organizationId), eq(poolIps.poolId, current.id)));
    await tx
      .update(sendingDomains)
      .set({ ipPoolId: null, updatedAt: new Date() })
      .where(and(eq(sendingDomains.organizationId, organizationId), eq(sendingDomains.ipPoolId, current.id)));
    await tx.delete(ipPools).where(and(eq(ipPools.organizationId, organizationId), eq(ipPools.id, current.id)));
    return ok(view);
  });
}

/**
 * Adds an IP to a pool, or changes its weight and warm-up when it is in this pool already. With
 * DELIVERY_SENDING_IPS set, only those addresses: mail cannot leave from any other.
 */
export async function addPoolIp(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof addPoolIpInput>) {
  const access = authorize(ctx, 'delivery:admin', addPoolIpInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const allowed = deps.mail?.platform.sendingIps ?? [];
  if (allowed.length && !allowed.some((s) => s.ip.toLowerCase() === input.ip))
    return fail(new SendingIpNotAllowedError(input.ip));
  return deps.handle.db.transaction(async (tx) => {
    const pool = await poolOf(tx, organizationId, input.poolId, true);
    if (!pool) return fail(new NotFoundError('IpPool', input.poolId));
    const [existing] = await tx
      .select()
      .from(poolIps)
      .where(and(eq(poolIps.organizationId, organizationId), eq(poolIps.ip, input.ip)));
    if (existing && existing.poolId !== pool.id) return fail(new SendingIpTakenError(input.ip));
    const values = {
      ...(input.weight !== undefined || !existing ? { weight: input.weight ?? 1 } : {}),
      ...(input.warmup !== undefined || !existing
        ? { warmup: input.warmup === undefined ? DEFAULT_WARMUP : input.warmup }
        : {}),
      ...(input.warmupStartedOn !== undefined || !existing
        ? { warmupStartedOn: input.warmupStartedOn ?? deps.now().toISOString().slice(0, 10) }
        : {}),
    };
    if (existing) await tx.update(poolIps).set(values).where(eq(poolIps.id, existing.id));
    else await tx.insert(poolIps).values({ id: newId(), organizationId, poolId: pool.id, ip: input.ip, ...values });
    return ok((await viewsOf(tx, deps, organizationId, [pool]))[0]!);
  });
}

export async function removePoolIp(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof removePoolIpInput>) {
  const access = authorize(ctx, 'delivery:admin', removePoolIpInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const pool = await poolOf(tx, organizationId, input.poolId, true);
    if (!pool) return fail(new NotFoundError('IpPool', input.poolId));
    const [gone] = await tx
      .delete(poolIps)
      .where(and(eq(poolIps.organizationId, organizationId), eq(poolIps.poolId, pool.id), eq(poolIps.ip, input.ip)))
      .returning();
    if (!gone) return fail(new NotFoundError('PoolIp', input.ip));
    return ok((await viewsOf(tx, deps, organizationId, [pool]))[0]!);
  });
}

/** Sets the pool a sending domain's email leaves from; null: the organization's default pool. */
export async function assignIpPool(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof assignPoolInput>) {
  const access = authorize(ctx, 'delivery:admin', assignPoolInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    if (input.poolId && !(await poolOf(tx, organizationId, input.poolId, true)))
      return fail(new NotFoundError('IpPool', input.poolId));
    const [row] = await tx
      .update(sendingDomains)
      .set({ ipPoolId: input.poolId, updatedAt: new Date() })
      .where(and(eq(sendingDomains.organizationId, organizationId), eq(sendingDomains.id, input.sendingDomainId)))
      .returning();
    if (!row) return fail(new NotFoundError('SendingDomain', input.sendingDomainId));
    return ok(await sendingDomainView(tx, deps, row));
  });
}
