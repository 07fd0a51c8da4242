// Sending domains: added with a fresh pair of DKIM keys (RSA-2048 and Ed25519, sealed at rest),
// shown with the DNS records to publish, checked against DNS on request and daily, and rotated
// with an overlap (the new selectors are published and verified before they sign, the old ones
// stay published for mail still in flight).
import { authorize, fail, NotFoundError, newId, ok, type RequestContext } from '@mauntic/kernel';
import { defineJob, type Executor } from '@mauntic/platform';
import { and, asc, eq, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { dkimKeys, sendingDomains, sendingReputation } from '../db/schema.ts';
import { SendingDomainTakenError } from '../domain/errors.ts';
import {
  allPass,
  type DnsRecord,
  DOMAIN_PATTERN,
  type MailPlatform,
  type RecordCheck,
  recordMatches,
  recordsToPublish,
  returnPathDomainOf,
} from '../domain/sending-domain.ts';
import { decayed, scoreOf } from '../domain/warmup.ts';
import { decryptSecret, type EncryptionKey, encryptSecret } from '../providers/crypto.ts';
import { type DkimAlgorithm, generateDkimKey } from '../providers/dkim.ts';
import type { DeliveryDeps } from './deps.ts';
import { type DnsLookup, dnsLookup } from './dns.ts';

export type SendingDomainRow = typeof sendingDomains.$inferSelect;
type DkimKeyRow = typeof dkimKeys.$inferSelect;

export const DKIM_ALGORITHMS: readonly DkimAlgorithm[] = ['rsa-sha256', 'ed25519-sha256'];
/** How long a rotated-out key stays published after its successor signs. */
export const KEY_OVERLAP_MS = 7 * 24 * 3600_000;
const RECHECK_MS = 24 * 3600_000;

const NO_PLATFORM: MailPlatform = { sendingIps: [], bounceHost: 'localhost' };
const platformOf = (deps: DeliveryDeps) => deps.mail?.platform ?? NO_PLATFORM;
const SYSTEM_DNS = dnsLookup();
const dnsOf = (deps: DeliveryDeps) => deps.mail?.dns ?? SYSTEM_DNS;

const hostname = z
  .string()
  .trim()
  .toLowerCase()
  .transform((v) => v.replace(/\.$/, ''))
  .pipe(z.string().regex(DOMAIN_PATTERN, 'expected a domain name such as mail.example.com'));

export const sendingDomainInput = z.object({
  domain: hostname,
  /** Where bounces return; `bounces.<domain>` when absent. */
  returnPathDomain: hostname.optional(),
});
const byId = z.object({ id: z.uuid() });

/** A domain as the API shows it: its records with the last check of each, and its keys' states. */
export interface SendingDomainView extends SendingDomainRow {
  records: (DnsRecord & { check: RecordCheck | null })[];
  keys: Pick<DkimKeyRow, 'id' | 'selector' | 'algorithm' | 'status' | 'generation' | 'retireAt' | 'createdAt'>[];
  /** Its reputation score (100 less decayed penalties for deferrals, sender-caused bounces, complaints). */
  reputation: number;
}

/** The AAD of a sealed DKIM key: its organization and key row, as provider secrets bind theirs. */
const keyContext = (row: { organizationId: string; id: string }) => ({
  organizationId: row.organizationId,
  providerId: `dkim-key:${row.id}`,
});

export const openDkimKey = (key: Buffer, row: Pick<DkimKeyRow, 'organizationId' | 'id' | 'privateKey'>) =>
  decryptSecret(row.privateKey, key as EncryptionKey, keyContext(row));

function newKeys(deps: DeliveryDeps, domain: SendingDomainRow, generation: number, status: 'active' | 'pending') {
  return DKIM_ALGORITHMS.map((algorithm) => {
    const id = newId();
    const { privateKeyPem, publicKey } = generateDkimKey(algorithm);
    return {
      id,
      organizationId: domain.organizationId,
      domainId: domain.id,
      generation,
      // Selectors name the generation and algorithm, so both keys of two generations can be published at once.
      selector: `mauntic${generation}-${algorithm === 'rsa-sha256' ? 'rsa' : 'ed'}`,
      algorithm,
      publicKey,
      privateKey: encryptSecret(privateKeyPem, deps.encryptionKey as EncryptionKey, {
        organizationId: domain.organizationId,
        providerId: `dkim-key:${id}`,
      }),
      status,
    };
  });
}

export async function viewOf(db: Executor, deps: DeliveryDeps, row: SendingDomainRow): Promise<SendingDomainView> {
  const keys = await db
    .select()
    .from(dkimKeys)
    .where(
      and(
        eq(dkimKeys.organizationId, row.organizationId),
        eq(dkimKeys.domainId, row.id),
        ne(dkimKeys.status, 'retired'),
      ),
    )
    .orderBy(asc(dkimKeys.generation), asc(dkimKeys.algorithm));
  const [penalty] = await db
    .select()
    .from(sendingReputation)
    .where(
      and(
        eq(sendingReputation.organizationId, row.organizationId),
        eq(sendingReputation.kind, 'domain'),
        eq(sendingReputation.subject, row.domain),
      ),
    );
  const checks = row.checks as RecordCheck[];
  const records = recordsToPublish(
    row,
    keys as { selector: string; algorithm: DkimAlgorithm; publicKey: string }[],
    platformOf(deps),
  );
  return {
    ...row,
    reputation: scoreOf(penalty ? decayed(penalty.points, penalty.updatedAt, deps.now()) : 0),
    records: records.map((r) => ({
      ...r,
      check: checks.find((c) => c.kind === r.kind && c.name === r.name) ?? null,
    })),
    keys: keys.map(({ id, selector, algorithm, status, generation, retireAt, createdAt }) => ({
      id,
      selector,
      algorithm,
      status,
      generation,
      retireAt,
      createdAt,
    })),
  };
}

export async function addSendingDomain(
  deps: DeliveryDeps,
  ctx: RequestContext,
  raw: z.input<typeof sendingDomainInput>,
) {
  const access = authorize(ctx, 'delivery:admin', sendingDomainInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(sendingDomains)
      .values({
        id: newId(),
        organizationId,
        domain: input.domain,
        returnPathDomain: input.returnPathDomain ?? returnPathDomainOf(input.domain),
      })
      .onConflictDoNothing()
      .returning();
    if (!row) return fail(new SendingDomainTakenError(input.domain));
    await tx.insert(dkimKeys).values(newKeys(deps, row, 1, 'active'));
    return ok(await viewOf(tx, deps, row));
  });
}

async function domainOf(db: Executor, organizationId: string, id: string) {
  const [row] = await db
    .select()
    .from(sendingDomains)
    .where(and(eq(sendingDomains.organizationId, organizationId), eq(sendingDomains.id, id)));
  return row;
}

export async function getSendingDomain(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof byId>) {
  const access = authorize(ctx, 'delivery:read', byId, raw);
  if (!access.ok) return access;
  const row = await domainOf(deps.handle.db, access.value.organizationId, access.value.input.id);
  // Absent (or another organization's) reads as null, as `message` does.
  return ok(row ? await viewOf(deps.handle.db, deps, row) : null);
}

export async function listSendingDomains(deps: DeliveryDeps, ctx: RequestContext) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const rows = await deps.handle.db
    .select()
    .from(sendingDomains)
    .where(eq(sendingDomains.organizationId, access.value.organizationId))
    .orderBy(asc(sendingDomains.domain));
  return ok(await Promise.all(rows.map((row) => viewOf(deps.handle.db, deps, row))));
}

export async function deleteSendingDomain(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof byId>) {
  const access = authorize(ctx, 'delivery:admin', byId, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [row] = await tx
      .delete(sendingDomains)
      .where(and(eq(sendingDomains.organizationId, organizationId), eq(sendingDomains.id, input.id)))
      .returning();
    if (!row) return fail(new NotFoundError('SendingDomain', input.id));
    await tx.delete(dkimKeys).where(and(eq(dkimKeys.organizationId, organizationId), eq(dkimKeys.domainId, row.id)));
    const gone: SendingDomainView = { ...row, records: [], keys: [], reputation: 100 };
    return ok(gone);
  });
}

/** Checks the domain's records now and returns it with the results. */
export async function verifySendingDomain(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof byId>) {
  const access = authorize(ctx, 'delivery:admin', byId, raw);
  if (!access.ok) return access;
  const row = await domainOf(deps.handle.db, access.value.organizationId, access.value.input.id);
  if (!row) return fail(new NotFoundError('SendingDomain', access.value.input.id));
  return ok(await checkDomain(deps, row));
}

/**
 * Adds the next generation of keys as pending: published, not signing. The next check that finds
 * their records promotes them; until then the current keys sign. Asking again while a rotation is
 * pending changes nothing.
 */
export async function rotateDkimKeys(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof byId>) {
  const access = authorize(ctx, 'delivery:admin', byId, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(sendingDomains)
      .where(and(eq(sendingDomains.organizationId, organizationId), eq(sendingDomains.id, input.id)))
      .for('update');
    if (!row) return fail(new NotFoundError('SendingDomain', input.id));
    const [latest] = await tx
      .select({
        generation: sql<number>`max(${dkimKeys.generation})`,
        pending: sql<boolean>`bool_or(${dkimKeys.status} = 'pending')`,
      })
      .from(dkimKeys)
      .where(and(eq(dkimKeys.organizationId, organizationId), eq(dkimKeys.domainId, row.id)));
    if (!latest?.pending)
      await tx.insert(dkimKeys).values(newKeys(deps, row, (latest?.generation ?? 0) + 1, 'pending'));
    return ok(await viewOf(tx, deps, row));
  });
}

/** What DNS answers for a record's name and type. */
function lookup(dns: DnsLookup, record: DnsRecord): Promise<string[]> {
  switch (record.type) {
    case 'TXT':
      return dns.txt(record.name);
    case 'MX':
      return dns.mx(record.name);
    case 'PTR':
      return dns.ptr(
        record.name
          .replace(/\.in-addr\.arpa$/, '')
          .split('.')
          .reverse()
          .join('.'),
      );
  }
}

/**
 * Looks every record up, promotes pending keys whose records are found (the keys they replace
 * start retiring), retires keys past their overlap, and stores the result and the domain's status.
 */
export async function checkDomain(deps: DeliveryDeps, row: SendingDomainRow): Promise<SendingDomainView> {
  const platform = platformOf(deps);
  const dns = dnsOf(deps);
  const now = deps.now();
  const keys = await deps.handle.db
    .select()
    .from(dkimKeys)
    .where(
      and(
        eq(dkimKeys.organizationId, row.organizationId),
        eq(dkimKeys.domainId, row.id),
        ne(dkimKeys.status, 'retired'),
      ),
    );
  const records = recordsToPublish(
    row,
    keys as { selector: string; algorithm: DkimAlgorithm; publicKey: string }[],
    platform,
  );
  const checks: RecordCheck[] = await Promise.all(
    records.map(async (record) => {
      const base = { kind: record.kind, name: record.name, ...(record.selector ? { selector: record.selector } : {}) };
      try {
        const found = await lookup(dns, record);
        return { ...base, ok: recordMatches(record, found, platform), found };
      } catch (error) {
        // A resolver that fails or times out found nothing: the record counts as missing, and says why.
        return { ...base, ok: false, found: [], error: (error as Error).message.slice(0, 200) };
      }
    }),
  );
  const okSelectors = new Set(checks.filter((c) => c.kind === 'dkim' && c.ok).map((c) => c.selector));
  const pending = keys.filter((k) => k.status === 'pending');
  const promote = pending.length > 0 && pending.every((k) => okSelectors.has(k.selector));
  const signing = new Set(keys.filter((k) => k.status === (promote ? 'pending' : 'active')).map((k) => k.selector));
  const verified = allPass(checks, signing);
  return deps.handle.db.transaction(async (tx) => {
    if (promote) {
      await tx
        .update(dkimKeys)
        .set({ status: 'retiring', retireAt: new Date(now.getTime() + KEY_OVERLAP_MS) })
        .where(
          and(
            eq(dkimKeys.organizationId, row.organizationId),
            eq(dkimKeys.domainId, row.id),
            eq(dkimKeys.status, 'active'),
          ),
        );
      await tx
        .update(dkimKeys)
        .set({ status: 'active' })
        .where(
          and(
            eq(dkimKeys.organizationId, row.organizationId),
            eq(dkimKeys.domainId, row.id),
            eq(dkimKeys.status, 'pending'),
          ),
        );
    }
    await tx
      .update(dkimKeys)
      .set({ status: 'retired' })
      .where(
        and(
          eq(dkimKeys.organizationId, row.organizationId),
          eq(dkimKeys.domainId, row.id),
          eq(dkimKeys.status, 'retiring'),
          lt(dkimKeys.retireAt, now),
        ),
      );
    const [updated] = await tx
      .update(sendingDomains)
      .set({
        checks,
        checkedAt: now,
        status: verified ? 'verified' : row.verifiedAt ? 'failing' : 'pending',
        verifiedAt: verified ? now : row.verifiedAt,
        updatedAt: now,
      })
      .where(and(eq(sendingDomains.organizationId, row.organizationId), eq(sendingDomains.id, row.id)))
      .returning();
    return viewOf(tx, deps, updated!);
  });
}

/** Checks every domain not checked for a day, then runs again in a day. */
export async function recheckSendingDomains(deps: DeliveryDeps): Promise<number> {
  const due = await deps.handle.db
    .select()
    .from(sendingDomains)
    .where(
      or(isNull(sendingDomains.checkedAt), lt(sendingDomains.checkedAt, new Date(deps.now().getTime() - RECHECK_MS))),
    );
  for (const row of due) {
    try {
      await checkDomain(deps, row);
    } catch (error) {
      // A resolver that failed is no verdict on the domain: it keeps its status, and is due again next time.
      deps.logger.warn({ err: error, domain: row.domain }, 'sending domain check failed');
    }
  }
  return due.length;
}

export const recheckSendingDomainsJob = (deps: DeliveryDeps) =>
  defineJob({
    name: 'delivery-sending-domain-recheck',
    /** The day (ms since the epoch, at midnight UTC) this run is for. */
    schema: z.object({ day: z.number().int() }),
    handle: async ({ day }) => {
      await recheckSendingDomains(deps);
      await scheduleRecheck(deps, day + RECHECK_MS);
    },
  });

/** The daily check, once per day whoever schedules it (the job id is the day). */
export async function scheduleRecheck(deps: DeliveryDeps, day?: number): Promise<void> {
  const at = day ?? Math.floor(deps.now().getTime() / RECHECK_MS) * RECHECK_MS + RECHECK_MS;
  await deps.queue.enqueue(
    recheckSendingDomainsJob(deps),
    { day: at },
    { jobId: `sending-domain-recheck-${at}`, delayMs: Math.max(0, at - deps.now().getTime()) },
  );
}

/** The domains (by lower-case name) of the given organizations, for the send path's refusal. */
export async function domainStatuses(db: Executor, organizationId: string, domains: string[]) {
  if (!domains.length) return new Map<string, string>();
  const rows = await db
    .select({ domain: sendingDomains.domain, status: sendingDomains.status })
    .from(sendingDomains)
    .where(and(eq(sendingDomains.organizationId, organizationId), inArray(sendingDomains.domain, domains)));
  return new Map(rows.map((r) => [r.domain, r.status]));
}
