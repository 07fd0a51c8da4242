// The engine's side of IP pools: which IP each email of a batch leaves from. An email from a
// sending domain with a pool (else from an organization with a default pool) picks one of the
// pool's IPs by weight, within that IP's warm-up caps for the recipient's provider group this day
// and this hour; an IP throttled by its reputation keeps a share of its caps and weight, a paused
// one none, and what one IP cannot take goes to the pool's next IPs. What no IP can take waits for
// the next hour (or day). The counters live in Redis (shared by every engine) or in memory
// (embedded mode), reserved for a whole batch in one round trip.
import type { DatabaseHandle, Executor } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { ipPools, poolIps, sendingReputation } from '../db/schema.ts';
import {
  decayed,
  PENALTIES,
  type PenaltyKind,
  type ProviderGroup,
  providerGroupOf,
  REPUTATION_HALF_LIFE_MS,
  scoreOf,
  throttleFactor,
  type WarmupSchedule,
  warmupCaps,
  windowsOf,
} from '../domain/warmup.ts';

// --- Counters ------------------------------------------------------------------------------------

/** One IP's window counters and caps for a demand; a cap of -1 is no cap. */
export interface CandidateIp {
  dayKey: string;
  hourKey: string;
  dayCap: number;
  hourCap: number;
  /** Messages the weighted pick gave this IP; the rest of the demand goes to the next IPs. */
  share: number;
}

/** Messages of one pool, provider group and sending domain, and the IPs they may leave from (in failover order). */
export interface Demand {
  n: number;
  ips: CandidateIp[];
}

export interface Reservation {
  /** Messages granted to each IP of the demand, in its order. */
  grants: number[];
  /** Every IP has used its day: what is left waits for the next day, not the next hour (false without IPs). */
  dayFull: boolean;
}

/** Reserves a batch's demands at once: atomic across engines in Redis. */
export interface WarmupCounters {
  reserve(demands: Demand[]): Promise<Reservation[]>;
}

/** Counter keys outlive their window by a little, for engines whose clocks differ. */
const DAY_TTL_S = 2 * 86_400;
const HOUR_TTL_S = 2 * 3600;

/**
 * The same allocation as allocateInMemory, in Redis: share first, then the rest to the next IPs
 * with room, counting both windows. Keys of one batch are all under one hash tag.
 */
const RESERVE_LUA = `
local out = {}
local k = 1
local a = 1
local demands = tonumber(ARGV[a]); a = a + 1
for d = 1, demands do
  local n = tonumber(ARGV[a]); local ips = tonumber(ARGV[a + 1]); a = a + 2
  local left, grant, dayLeft = {}, {}, {}
  local rest = n
  for i = 1, ips do
    local dayCap = tonumber(ARGV[a]); local hourCap = tonumber(ARGV[a + 1]); local share = tonumber(ARGV[a + 2]); a = a + 3
    local day = tonumber(redis.call('GET', KEYS[k]) or '0')
    local hour = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
    local dl = dayCap < 0 and n or math.max(0, dayCap - day)
    local hl = hourCap < 0 and n or math.max(0, hourCap - hour)
    dayLeft[i] = dl
    left[i] = math.min(dl, hl)
    grant[i] = math.min(share, left[i], rest)
    rest = rest - grant[i]
  end
  for i = 1, ips do
    if rest <= 0 then break end
    local extra = math.min(rest, left[i] - grant[i])
    grant[i] = grant[i] + extra
    rest = rest - extra
  end
  -- No usable IP (all paused): the next hour, when reputation is read again.
  local dayFull = ips > 0 and 1 or 0
  for i = 1, ips do
    if grant[i] > 0 then
      redis.call('INCRBY', KEYS[k], grant[i]); redis.call('EXPIRE', KEYS[k], ${DAY_TTL_S})
      redis.call('INCRBY', KEYS[k + 1], grant[i]); redis.call('EXPIRE', KEYS[k + 1], ${HOUR_TTL_S})
    end
    if dayLeft[i] - grant[i] > 0 then dayFull = 0 end
    out[#out + 1] = grant[i]
    k = k + 2
  end
  out[#out + 1] = dayFull
end
return out`;

type ReserveScript = Redis & { mauntic_warmup_reserve(...args: (string | number)[]): Promise<number[]> };

export function createRedisWarmupCounters(redis: Redis, prefix = 'mauntic:delivery:warmup:{w}:'): WarmupCounters {
  if (!('mauntic_warmup_reserve' in redis)) redis.defineCommand('mauntic_warmup_reserve', { lua: RESERVE_LUA });
  const r = redis as ReserveScript;
  return {
    async reserve(demands) {
      if (!demands.length) return [];
      const keys: string[] = [];
      const args: number[] = [demands.length];
      for (const d of demands) {
        args.push(d.n, d.ips.length);
        for (const ip of d.ips) {
          keys.push(prefix + ip.dayKey, prefix + ip.hourKey);
          args.push(ip.dayCap, ip.hourCap, ip.share);
        }
      }
      const flat = await r.mauntic_warmup_reserve(keys.length, ...keys, ...args);
      let at = 0;
      return demands.map((d) => {
        const grants = flat.slice(at, at + d.ips.length).map(Number);
        const dayFull = Number(flat[at + d.ips.length]) === 1;
        at += d.ips.length + 1;
        return { grants, dayFull };
      });
    },
  };
}

/** Embedded mode's counters: one process sends everything. */
export function createMemoryWarmupCounters(): WarmupCounters {
  const counts = new Map<string, number>();
  let today = '';
  return {
    async reserve(demands) {
      const stamp = demands[0]?.ips[0]?.dayKey.slice(-10) ?? today;
      // A new day: the windows of earlier days are done with.
      if (stamp > today) {
        for (const key of counts.keys()) if (!key.includes(stamp)) counts.delete(key);
        today = stamp;
      }
      return demands.map((d) =>
        allocate(
          d,
          (key) => counts.get(key) ?? 0,
          (key, n) => counts.set(key, (counts.get(key) ?? 0) + n),
        ),
      );
    },
  };
}

function allocate(demand: Demand, get: (key: string) => number, add: (key: string, n: number) => void): Reservation {
  let rest = demand.n;
  const dayLeft: number[] = [];
  const left = demand.ips.map((ip) => {
    const day = ip.dayCap < 0 ? demand.n : Math.max(0, ip.dayCap - get(ip.dayKey));
    dayLeft.push(day);
    return Math.min(day, ip.hourCap < 0 ? demand.n : Math.max(0, ip.hourCap - get(ip.hourKey)));
  });
  const grants = demand.ips.map((ip, i) => {
    const g = Math.min(ip.share, left[i]!, rest);
    rest -= g;
    return g;
  });
  for (let i = 0; i < grants.length && rest > 0; i++) {
    const extra = Math.min(rest, left[i]! - grants[i]!);
    grants[i]! += extra;
    rest -= extra;
  }
  demand.ips.forEach((ip, i) => {
    if (grants[i]! > 0) {
      add(ip.dayKey, grants[i]!);
      add(ip.hourKey, grants[i]!);
    }
  });
  // No usable IP (all paused): the next hour, when reputation is read again.
  return { grants, dayFull: dayLeft.length > 0 && dayLeft.every((l, i) => l - grants[i]! <= 0) };
}

// --- Pools ---------------------------------------------------------------------------------------

export interface PoolIp {
  ip: string;
  weight: number;
  warmup: WarmupSchedule | null;
  warmupStartedOn: string | null;
}

interface OrgPools {
  defaultPoolId: string | null;
  pools: Map<string, PoolIp[]>;
  /** Penalty points and when, by `ip|<address>` and `domain|<name>`. */
  penalties: Map<string, { points: number; at: Date }>;
}

export interface PoolDirectory {
  /** Reads the pools of organizations not read within the cache time, and the reputation of their IPs and domains. */
  load(organizationIds: string[], now: number): Promise<void>;
  /** Chooses the IP of every email that has a pool; the rest are left as they are. */
  assign(requests: IpRequest[], now: Date): Promise<IpAnswer[]>;
  /** Counts trouble against an IP or domain; written with the next batch's reads. */
  penalize(organizationId: string, kind: 'ip' | 'domain', subject: string, penalty: PenaltyKind): void;
  /** Writes the penalties counted since the last flush, in one statement. */
  flush(now: Date): Promise<void>;
}

export interface IpRequest {
  organizationId: string;
  address: string;
  /** The pool of its sending domain; null: the organization's default pool. */
  poolId: string | null;
  /** Its sending domain, whose reputation throttles it too. */
  domain: string | null;
}

/** An IP to send from, or when to try again; `none` when no pool applies. */
export type IpAnswer = { ip: string } | { waitUntil: Date } | null;

export function createPoolDirectory(options: {
  handle: DatabaseHandle;
  counters: WarmupCounters;
  cacheMs?: number;
  random?: () => number;
}): PoolDirectory {
  const { handle, counters } = options;
  const cacheMs = options.cacheMs ?? 5000;
  const random = options.random ?? Math.random;
  const cache = new Map<string, { at: number; pools: OrgPools }>();
  let pending: { organization_id: string; kind: string; subject: string; points: number }[] = [];

  const score = (org: OrgPools, key: string, now: Date) => {
    const p = org.penalties.get(key);
    return scoreOf(p ? decayed(p.points, p.at, now) : 0);
  };

  return {
    async load(organizationIds, now) {
      const stale = organizationIds.filter((org) => {
        const hit = cache.get(org);
        return !hit || now - hit.at >= cacheMs;
      });
      if (!stale.length) return;
      const orgs = sql.join(
        stale.map((org) => sql`${org}::uuid`),
        sql`, `,
      );
      const rows = await handle.rows<{
        organization_id: string;
        pool_id: string | null;
        is_default: boolean | null;
        ip: string | null;
        weight: number | null;
        warmup: WarmupSchedule | null;
        warmup_started_on: string | null;
        kind: string | null;
        subject: string | null;
        points: number | null;
        updated_at: string | null;
      }>(sql`
        select p.organization_id, p.id as pool_id, p.is_default, i.ip, i.weight, i.warmup,
               i.warmup_started_on::text, null as kind, null as subject, null::float8 as points, null as updated_at
        from ${ipPools} p join ${poolIps} i on i.organization_id = p.organization_id and i.pool_id = p.id
        where p.organization_id in (${orgs})
        union all
        select r.organization_id, null, null, null, null, null, null, r.kind, r.subject, r.points, r.updated_at::text
        from ${sendingReputation} r where r.organization_id in (${orgs})`);
      const byOrg = new Map<string, OrgPools>(
        stale.map((org) => [org, { defaultPoolId: null, pools: new Map(), penalties: new Map() }]),
      );
      for (const r of rows) {
        const org = byOrg.get(r.organization_id)!;
        if (r.kind && r.subject) {
          org.penalties.set(`${r.kind}|${r.subject}`, { points: r.points ?? 0, at: new Date(r.updated_at!) });
          continue;
        }
        if (!r.pool_id || !r.ip) continue;
        if (r.is_default) org.defaultPoolId = r.pool_id;
        const ips = org.pools.get(r.pool_id) ?? [];
        ips.push({ ip: r.ip, weight: r.weight ?? 1, warmup: r.warmup, warmupStartedOn: r.warmup_started_on });
        org.pools.set(r.pool_id, ips);
      }
      for (const [org, pools] of byOrg) cache.set(org, { at: now, pools });
    },

    async assign(requests, now) {
      const windows = windowsOf(now);
      const answers: IpAnswer[] = requests.map(() => null);
      // Messages of one pool, provider group and domain share a demand.
      const groups = new Map<
        string,
        { ips: (PoolIp & { factor: number })[]; members: number[]; org: string; group: ProviderGroup }
      >();
      requests.forEach((req, i) => {
        const org = cache.get(req.organizationId)?.pools;
        if (!org) return;
        const poolId = req.poolId && org.pools.has(req.poolId) ? req.poolId : org.defaultPoolId;
        const ips = poolId ? org.pools.get(poolId) : undefined;
        if (!ips?.length) return;
        const group = providerGroupOf(req.address);
        const key = `${req.organizationId}|${poolId}|${group}|${req.domain ?? ''}`;
        let entry = groups.get(key);
        if (!entry) {
          const domainFactor = req.domain ? throttleFactor(score(org, `domain|${req.domain}`, now)) : 1;
          entry = {
            org: req.organizationId,
            group,
            members: [],
            // The worse of the IP's and the domain's standing decides.
            ips: ips.map((ip) => ({
              ...ip,
              factor: Math.min(throttleFactor(score(org, `ip|${ip.ip}`, now)), domainFactor),
            })),
          };
          groups.set(key, entry);
        }
        entry.members.push(i);
      });
      const entries = [...groups.values()];
      const chosen: string[][] = [];
      const demands = entries.map((entry): Demand => {
        const usable = entry.ips.filter((ip) => ip.factor > 0);
        const picks = weightedPicks(usable, entry.members.length, random);
        // Failover order: the pool's IPs by weight, the heaviest first.
        const order = usable.map((ip, i) => ({ ip, share: picks[i]! })).sort((a, b) => b.ip.weight - a.ip.weight);
        chosen.push(order.map((o) => o.ip.ip));
        return {
          n: entry.members.length,
          ips: order.map(({ ip, share }) => {
            const caps = warmupCaps(ip.warmup, ip.warmupStartedOn, now);
            const cap = (c: number) => (c === Infinity ? -1 : Math.floor(c * ip.factor));
            const base = `${entry.org}:${ip.ip}:${entry.group}`;
            return {
              dayKey: `${base}:d:${windows.day}`,
              hourKey: `${base}:h:${windows.hour}`,
              dayCap: cap(caps.day),
              hourCap: cap(caps.hour),
              share,
            };
          }),
        };
      });
      const reservations = await counters.reserve(demands);
      entries.forEach((entry, d) => {
        const { grants, dayFull } = reservations[d]!;
        const ips = chosen[d]!;
        let at = 0;
        for (const member of entry.members) {
          while (at < grants.length && grants[at]! === 0) at++;
          if (at < grants.length) {
            grants[at]!--;
            answers[member] = { ip: ips[at]! };
          } else answers[member] = { waitUntil: dayFull ? windows.nextDay : windows.nextHour };
        }
      });
      return answers;
    },

    penalize(organizationId, kind, subject, penalty) {
      pending.push({ organization_id: organizationId, kind, subject, points: PENALTIES[penalty] });
    },

    async flush(now) {
      if (!pending.length) return;
      const batch = pending;
      pending = [];
      try {
        await recordPenalties(handle, batch, now);
      } catch (error) {
        pending.push(...batch);
        throw error;
      }
    },
  };
}

/** How many of `n` messages each IP gets when each message picks one by weight (throttled IPs weigh less). */
function weightedPicks(ips: { weight: number; factor: number }[], n: number, random: () => number): number[] {
  const weights = ips.map((ip) => Math.max(0, ip.weight) * ip.factor);
  const total = weights.reduce((a, b) => a + b, 0);
  const picks = ips.map(() => 0);
  if (total <= 0) return picks;
  for (let m = 0; m < n; m++) {
    let r = random() * total;
    let i = 0;
    while (i < weights.length - 1 && r >= weights[i]!) r -= weights[i++]!;
    picks[i]!++;
  }
  return picks;
}

/**
 * Adds penalty points against IPs and domains: the stored points decayed to `now`, plus the new
 * ones. One statement for a whole batch (or one report).
 */
export async function recordPenalties(
  handle: DatabaseHandle,
  penalties: { organization_id: string; kind: string; subject: string; points: number }[],
  now: Date,
  executor?: Executor,
): Promise<void> {
  if (!penalties.length) return;
  const summed = new Map<string, (typeof penalties)[number]>();
  for (const p of penalties) {
    const key = `${p.organization_id}|${p.kind}|${p.subject}`;
    const hit = summed.get(key);
    if (hit) hit.points += p.points;
    else summed.set(key, { ...p });
  }
  const at = now.toISOString();
  const query = sql`
    insert into ${sendingReputation} (organization_id, kind, subject, points, updated_at)
    select organization_id, kind, subject, points, ${at}::timestamptz
    from json_to_recordset(${JSON.stringify([...summed.values()])}::json)
      as p(organization_id uuid, kind text, subject text, points float8)
    on conflict (organization_id, kind, subject) do update set
      points = ${sendingReputation.points} * power(0.5, greatest(0, extract(epoch from (excluded.updated_at - ${sendingReputation.updatedAt})))
        / ${REPUTATION_HALF_LIFE_MS / 1000}::float8) + excluded.points,
      updated_at = greatest(excluded.updated_at, ${sendingReputation.updatedAt})`;
  await handle.rows(query, executor);
}
