// What the engine signs with: each organization's sending domains, their return path and their
// active DKIM keys, opened and parsed once per key (parsing a PEM key costs more than a signature)
// and read again from the database every few seconds, so a rotation or a new domain takes effect.
import type { DatabaseHandle } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { dkimKeys, sendingDomains } from '../db/schema.ts';
import type { DkimAlgorithm, DkimKey } from '../providers/dkim.ts';
import { parseDkimKey } from '../providers/dkim.ts';
import { openDkimKey } from './sending-domains.ts';

export interface SigningIdentity {
  domain: string;
  /** pending | verified | failing: marketing email goes only from a verified one. */
  status: string;
  returnPathDomain: string;
  keys: DkimKey[];
  /** The IP pool its email leaves from; null: the organization's default pool. */
  ipPoolId: string | null;
}

export interface SigningDirectory {
  /** The sending domains of these organizations, by `organization|domain`. */
  forOrganizations(organizationIds: string[], now: number): Promise<Map<string, SigningIdentity>>;
}

export function createSigningDirectory(options: {
  handle: DatabaseHandle;
  encryptionKey: Buffer;
  cacheMs?: number;
}): SigningDirectory {
  const cacheMs = options.cacheMs ?? 5000;
  const cache = new Map<string, { at: number; identities: SigningIdentity[] }>();
  const parsed = new Map<string, DkimKey['privateKey']>();
  return {
    async forOrganizations(organizationIds, now) {
      const stale = organizationIds.filter((org) => {
        const hit = cache.get(org);
        return !hit || now - hit.at >= cacheMs;
      });
      if (stale.length) {
        const rows = await options.handle.rows<{
          organization_id: string;
          domain: string;
          status: string;
          return_path_domain: string;
          ip_pool_id: string | null;
          key_id: string | null;
          selector: string | null;
          algorithm: DkimAlgorithm | null;
          private_key: string | null;
        }>(sql`
          select d.organization_id, d.domain, d.status, d.return_path_domain, d.ip_pool_id,
                 k.id as key_id, k.selector, k.algorithm, k.private_key
          from ${sendingDomains} d
          left join ${dkimKeys} k on k.organization_id = d.organization_id and k.domain_id = d.id and k.status = 'active'
          where d.organization_id in (${sql.join(
            stale.map((org) => sql`${org}::uuid`),
            sql`, `,
          )})`);
        const byOrg = new Map<string, Map<string, SigningIdentity>>(stale.map((org) => [org, new Map()]));
        for (const r of rows) {
          const domains = byOrg.get(r.organization_id)!;
          let identity = domains.get(r.domain);
          if (!identity) {
            identity = {
              domain: r.domain,
              status: r.status,
              returnPathDomain: r.return_path_domain,
              keys: [],
              ipPoolId: r.ip_pool_id,
            };
            domains.set(r.domain, identity);
          }
          if (!r.key_id || !r.selector || !r.algorithm || !r.private_key) continue;
          let privateKey = parsed.get(r.key_id);
          if (!privateKey) {
            privateKey = parseDkimKey(
              openDkimKey(options.encryptionKey, {
                id: r.key_id,
                organizationId: r.organization_id,
                privateKey: r.private_key,
              }),
            );
            parsed.set(r.key_id, privateKey);
          }
          identity.keys.push({ domain: r.domain, selector: r.selector, algorithm: r.algorithm, privateKey });
        }
        for (const [org, domains] of byOrg) cache.set(org, { at: now, identities: [...domains.values()] });
      }
      const out = new Map<string, SigningIdentity>();
      for (const org of organizationIds)
        for (const identity of cache.get(org)?.identities ?? []) out.set(`${org}|${identity.domain}`, identity);
      return out;
    },
  };
}
