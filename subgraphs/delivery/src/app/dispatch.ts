// What the engine does to a claimed batch before anything leaves: one query each for templates,
// contacts, suppressions, settings and frequency counts; then per message a decision (send, skip,
// defer, fail) and, for sends, how to render the message and the provider to send it with.
import type { DatabaseHandle } from '@mauntic/platform';
import { inArray, sql } from 'drizzle-orm';
import { contacts, messages, settings, suppressions, templates } from '../db/schema.ts';
import { classifyBounce, countsAgainstSender } from '../domain/bounce.ts';
import { MAX_ATTEMPTS, type QuietHours, quietHoursDecision, retryDelayMs } from '../domain/policy.ts';
import { verpAddress } from '../domain/sending-domain.ts';
import { signMessage } from '../providers/dkim.ts';
import { buildRawMessage } from '../providers/mime.ts';
import type { OutboundMessage } from '../providers/types.ts';
import { ProviderError } from '../providers/types.ts';
import { NotTried, type ProviderDirectory, type ResolvedProvider } from './provider-directory.ts';
import { type ContactForRender, type MessageRenderer, renderFailure, type Sender } from './render-message.ts';
import type { IpRequest, PoolDirectory } from './sending-ips.ts';
import type { SigningDirectory, SigningIdentity } from './signing.ts';

type MessageRow = typeof messages.$inferSelect;
type TemplateRow = Pick<typeof templates.$inferSelect, 'id' | 'version' | 'channel' | 'category' | 'compiled'>;

/** The pool IP an email left from and its sending domain: its reputation hears of it. */
export interface SentVia {
  sendingIp: string | null;
  sendingDomain: string | null;
}

export type SendAttempt = (
  | { ok: true; providerId: string | null; providerMessageId: string | null }
  /** Tried and failed: again at `retryAt` when a later try may succeed. Counts as a try. */
  | { ok: false; error: string; retryAt: Date | null }
  /** Not tried: its provider could not be reached for reasons of ours (see NotTried). Again at `retryAt`, not a try. */
  | { ok: false; error: null; retryAt: Date }
) &
  Partial<SentVia>;

export type PreparedItem =
  | { kind: 'send'; row: MessageRow; send(onHandedOver: () => void): Promise<SendAttempt> }
  | { kind: 'skip'; row: MessageRow; reason: string }
  | { kind: 'fail'; row: MessageRow; reason: string }
  | { kind: 'defer'; row: MessageRow; until: Date };

export interface DeliveryDispatcher {
  prepare(rows: MessageRow[], now: Date): Promise<PreparedItem[]>;
  /** After a batch's sends: writes what their replies said about the sending IPs and domains (one statement, if any). */
  settle(now: Date): Promise<void>;
  close(): Promise<void>;
}

interface OrgSettings {
  frequencyCaps: Record<string, { max: number; periodSeconds: number }>;
  quietHours: QuietHours | null;
  sender: Sender;
}

type ContactWithConsent = ContactForRender & { doNotContact: string[] };

/** The From of email whose template and organization name none. */
const FALLBACK_SENDER = 'no-reply@localhost';

/** When a message that was not tried (its provider out of reach) is tried again. */
const NOT_TRIED_RETRY_MS = 2000;

export interface DispatcherOptions {
  handle: DatabaseHandle;
  providers: ProviderDirectory;
  renderer: MessageRenderer;
  /** The organizations' sending domains: email from one is DKIM-signed and gets its VERP return path. */
  signing: SigningDirectory;
  /** The organizations' IP pools: which IP each email leaves from, within its warm-up and reputation. */
  pools: PoolDirectory;
  /**
   * The return path domain of email from a domain that is not a sending domain
   * (DELIVERY_RETURN_PATH_DOMAIN); without one such email keeps its From as return path.
   */
  returnPathDomain?: string;
  /** How long a template, settings or provider read stays cached. */
  cacheMs?: number;
}

/** A value read from the database, and when (ms). */
type Cache<V> = Map<string, { at: number; value: V }>;

/** The reads a batch needs, with the templates and settings that recent batches already read. */
interface BatchReads {
  handle: DatabaseHandle;
  cacheMs: number;
  templates: Cache<TemplateRow>;
  settings: Cache<OrgSettings>;
  signing: SigningDirectory;
  pools: PoolDirectory;
}

/** What a batch's decisions rest on, read with one query each. */
interface BatchFacts {
  templates: Map<string, TemplateRow>;
  settings: Map<string, OrgSettings>;
  contacts: Map<string, ContactWithConsent>;
  /** The reason an address is suppressed, by `organization|channel|address`. */
  suppressions: Map<string, string>;
  /** Marketing messages each contact already got in its capped channel's period, by `contact|channel`. */
  counts: Map<string, number>;
  /** Capped messages this batch has let through so far, by `contact|channel`. */
  taken: Map<string, number>;
  /** The organizations' sending domains, by `organization|domain`. */
  domains: Map<string, SigningIdentity>;
}

export function createDispatcher(options: DispatcherOptions): DeliveryDispatcher {
  const { providers, renderer } = options;
  const reads: BatchReads = {
    handle: options.handle,
    cacheMs: options.cacheMs ?? 5000,
    templates: new Map(),
    settings: new Map(),
    signing: options.signing,
    pools: options.pools,
  };
  const envelope: Envelope = { returnPathDomain: options.returnPathDomain };
  return {
    async prepare(rows, now) {
      const facts = await readBatchFacts(reads, rows, now);
      const routed: Routed[] = [];
      const items = rows.map((row, index) =>
        prepareOne(row, facts, now, renderer, providers, envelope, (request) => {
          const route: Route = { ip: null, domain: request.domain, penalize: reads.pools.penalize };
          routed.push({ index, request, route });
          return route;
        }),
      );
      if (routed.length) {
        const answers = await reads.pools.assign(
          routed.map((r) => r.request),
          now,
        );
        answers.forEach((answer, i) => {
          const { index, route } = routed[i]!;
          if (!answer) return;
          if ('ip' in answer) route.ip = answer.ip;
          // Over its IPs' warm-up caps (or every IP paused): it waits for the next window.
          else items[index] = { kind: 'defer', row: rows[index]!, until: answer.waitUntil };
        });
      }
      return items;
    },
    settle: (now) => reads.pools.flush(now),
    close: () => providers.close(),
  };
}

/** The templates, settings, contacts, suppressions and frequency counts of a batch. */
async function readBatchFacts(reads: BatchReads, rows: MessageRow[], now: Date): Promise<BatchFacts> {
  const at = now.getTime();
  const orgs = [...new Set(rows.map((r) => r.organizationId))];
  const emailOrgs = [...new Set(rows.filter((r) => r.channel === 'email').map((r) => r.organizationId))];
  const [templates, settings, contacts, suppressions, domains] = await Promise.all([
    loadTemplates(reads, [...new Set(rows.map((r) => r.templateId).filter((id): id is string => Boolean(id)))], at),
    loadSettings(reads, orgs, at),
    loadContacts(reads.handle, rows),
    loadSuppressions(reads.handle, rows),
    reads.signing.forOrganizations(emailOrgs, at),
    reads.pools.load(emailOrgs, at),
  ]);
  const counts = await loadCounts(reads.handle, rows, settings);
  return { templates, settings, contacts, suppressions, counts, taken: new Map(), domains };
}

/** One message's decision: fail, skip, defer, or send (rendered when it is sent). */
function prepareOne(
  row: MessageRow,
  facts: BatchFacts,
  now: Date,
  renderer: MessageRenderer,
  providers: ProviderDirectory,
  envelope: Envelope,
  routeOf: (request: IpRequest) => Route,
): PreparedItem {
  const template = row.templateId ? facts.templates.get(row.templateId) : undefined;
  if (!template) return { kind: 'fail', row, reason: 'render_error: the template was deleted' };
  const marketing = template.category !== 'transactional';
  const contact = row.contactId ? facts.contacts.get(row.contactId) : undefined;
  if (row.contactId && !contact) return { kind: 'skip', row, reason: 'do_not_contact: the contact was deleted' };
  const refusal = consentRefusal(row, contact, marketing, facts.suppressions);
  if (refusal) return { kind: 'skip', row, reason: refusal };
  const policy = facts.settings.get(row.organizationId)!;
  let identity: SigningIdentity | undefined;
  if (row.channel === 'email') {
    const fromAddress = (template.compiled as { fromAddress?: string | null }).fromAddress ?? policy.sender.address;
    const fromDomain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1).toLowerCase();
    identity = facts.domains.get(`${row.organizationId}|${fromDomain}`);
    if (marketing && identity && identity.status !== 'verified')
      return { kind: 'fail', row, reason: `unverified_sending_domain: ${fromDomain} is not verified` };
  }
  if (marketing && row.sourceKind !== 'transactional') {
    const held = campaignHold(row, contact, policy, facts, now);
    if (held) return held;
  }
  // Rendered when it is sent, not here: a batch of rendered pages held through the send
  // phase outlived the young generation, and copying them doubled the engine's GC time.
  const render = () => renderer.render(row, template, contact ?? null, marketing, policy.sender);
  const sign = signer(row, identity, envelope);
  const route =
    row.channel === 'email'
      ? routeOf({
          organizationId: row.organizationId,
          address: row.address,
          poolId: identity?.ipPoolId ?? null,
          domain: identity?.domain ?? null,
        })
      : null;
  return {
    kind: 'send',
    row,
    send: (onHandedOver) => sendWith(providers, row, render, sign, route, onHandedOver, now),
  };
}

/** Why the recipient must not get this message: a suppression, or do-not-contact for marketing. */
function consentRefusal(
  row: MessageRow,
  contact: ContactWithConsent | undefined,
  marketing: boolean,
  suppressions: Map<string, string>,
): string | null {
  const suppression = suppressions.get(`${row.organizationId}|${row.channel}|${row.address.toLowerCase()}`);
  // An unsubscribe stops marketing only; bounces and complaints stop everything.
  if (suppression && (marketing || suppression !== 'unsubscribe')) return `suppressed: ${suppression}`;
  if (marketing && contact?.doNotContact.includes(row.channel)) return 'do_not_contact';
  return null;
}

/** A campaign message held back by its organization's frequency cap or quiet hours, else null. */
function campaignHold(
  row: MessageRow,
  contact: ContactWithConsent | undefined,
  policy: OrgSettings,
  facts: BatchFacts,
  now: Date,
): PreparedItem | null {
  const cap = policy.frequencyCaps[row.channel];
  if (cap && row.contactId) {
    const key = `${row.contactId}|${row.channel}`;
    const already = (facts.counts.get(key) ?? 0) + (facts.taken.get(key) ?? 0);
    if (already >= cap.max)
      return { kind: 'skip', row, reason: `frequency_cap: ${cap.max} per ${cap.periodSeconds} s` };
    facts.taken.set(key, (facts.taken.get(key) ?? 0) + 1);
  }
  const quiet = quietHoursDecision(now, contact?.timezone ?? null, policy.quietHours);
  if (quiet === 'drop') return { kind: 'skip', row, reason: 'quiet_hours' };
  if (quiet instanceof Date) return { kind: 'defer', row, until: quiet };
  return null;
}

/** Puts the still-fresh cached values of `keys` in `out`; returns the keys to read again. */
function fromCache<V>(cache: Cache<V>, cacheMs: number, keys: string[], now: number, out: Map<string, V>): string[] {
  return keys.filter((key) => {
    const hit = cache.get(key);
    if (hit && now - hit.at < cacheMs) out.set(key, hit.value);
    return !out.has(key);
  });
}

async function loadTemplates(reads: BatchReads, ids: string[], now: number): Promise<Map<string, TemplateRow>> {
  const out = new Map<string, TemplateRow>();
  const stale = fromCache(reads.templates, reads.cacheMs, ids, now, out);
  if (stale.length) {
    const rows = await reads.handle.rows<TemplateRow & { compiled: Record<string, unknown> }>(sql`
      select id, version, channel, category, compiled from ${templates} where ${inArray(templates.id, stale)}`);
    for (const row of rows) {
      reads.templates.set(row.id, { at: now, value: row });
      out.set(row.id, row);
    }
  }
  return out;
}

async function loadSettings(reads: BatchReads, orgs: string[], now: number): Promise<Map<string, OrgSettings>> {
  const out = new Map<string, OrgSettings>();
  const stale = fromCache(reads.settings, reads.cacheMs, orgs, now, out);
  if (stale.length) {
    const rows = await reads.handle.rows<{
      organization_id: string;
      frequency_caps: OrgSettings['frequencyCaps'];
      quiet_hours: QuietHours | null;
      default_from_name: string | null;
      default_from_address: string | null;
    }>(sql`
      select organization_id, frequency_caps, quiet_hours, default_from_name, default_from_address
      from ${settings} where ${inArray(settings.organizationId, stale)}`);
    const found = new Map(rows.map((r) => [r.organization_id, r]));
    for (const org of stale) {
      const r = found.get(org);
      const value = {
        frequencyCaps: r?.frequency_caps ?? {},
        quietHours: r?.quiet_hours ?? null,
        sender: { name: r?.default_from_name ?? null, address: r?.default_from_address ?? FALLBACK_SENDER },
      };
      reads.settings.set(org, { at: now, value });
      out.set(org, value);
    }
  }
  return out;
}

/** The batch's contacts, each only within its message's organization; deleted ones are absent. */
async function loadContacts(handle: DatabaseHandle, batch: MessageRow[]): Promise<Map<string, ContactWithConsent>> {
  const pairs = batch.filter((r) => r.contactId).map((r) => ({ o: r.organizationId, c: r.contactId }));
  if (!pairs.length) return new Map();
  const rows = await handle.rows<{
    id: string;
    email: string | null;
    phone: string | null;
    first_name: string | null;
    last_name: string | null;
    locale: string | null;
    timezone: string | null;
    fields: Record<string, unknown>;
    do_not_contact: string[];
  }>(sql`
    select k.id, k.email, k.phone, k.first_name, k.last_name, k.locale, k.timezone, k.fields, k.do_not_contact
    from ${contacts} k
    join (select distinct * from jsonb_to_recordset(${JSON.stringify(pairs)}::jsonb) as q(o uuid, c uuid)) q
      on k.id = q.c and k.organization_id = q.o
    where k.deleted_at is null`);
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        email: r.email,
        phone: r.phone,
        firstName: r.first_name,
        lastName: r.last_name,
        locale: r.locale,
        timezone: r.timezone,
        fields: r.fields,
        doNotContact: r.do_not_contact,
      },
    ]),
  );
}

async function loadSuppressions(handle: DatabaseHandle, rows: MessageRow[]): Promise<Map<string, string>> {
  const addressed = rows.filter((r) => r.channel === 'email' || r.channel === 'sms');
  if (!addressed.length) return new Map();
  const found = await handle.rows<{ organization_id: string; channel: string; address: string; reason: string }>(sql`
    select s.organization_id, s.channel, s.address, s.reason
    from ${suppressions} s
    join jsonb_to_recordset(${JSON.stringify(addressed.map((r) => ({ o: r.organizationId, c: r.channel, a: r.address.toLowerCase() })))}::jsonb)
      as q(o uuid, c text, a text)
      on s.organization_id = q.o and s.channel = q.c and s.address = q.a`);
  return new Map(found.map((s) => [`${s.organization_id}|${s.channel}|${s.address}`, s.reason]));
}

/** Marketing messages each contact already got within each capped channel's period. */
async function loadCounts(
  handle: DatabaseHandle,
  rows: MessageRow[],
  orgSettings: Map<string, OrgSettings>,
): Promise<Map<string, number>> {
  const asks = rows.filter((r) => r.contactId && orgSettings.get(r.organizationId)?.frequencyCaps[r.channel]);
  if (!asks.length) return new Map();
  const q = asks.map((r) => ({
    c: r.contactId,
    ch: r.channel,
    s: orgSettings.get(r.organizationId)!.frequencyCaps[r.channel]!.periodSeconds,
  }));
  const counts = await handle.rows<{ contact_id: string; channel: string; n: number }>(sql`
    select q.c as contact_id, q.ch as channel, count(m.id)::int as n
    from (select distinct * from jsonb_to_recordset(${JSON.stringify(q)}::jsonb) as x(c uuid, ch text, s int)) q
    join ${messages} m on m.contact_id = q.c and m.channel = q.ch
      and m.sent_at > now() - make_interval(secs => q.s) and m.source_kind <> 'transactional'
    group by q.c, q.ch`);
  return new Map(counts.map((c) => [`${c.contact_id}|${c.channel}`, c.n]));
}

interface Envelope {
  returnPathDomain: string | undefined;
}

/** Where an email leaves from: its pool IP (none without a pool) and sending domain. */
interface Route {
  ip: string | null;
  domain: string | null;
  penalize: PoolDirectory['penalize'];
}

interface Routed {
  index: number;
  request: IpRequest;
  route: Route;
}

/**
 * What a refused send says about the IP and domain it came from: a 4xx reply is a deferral; a
 * 5xx reply the bounce classifier puts on the sender (policy, reputation) is a policy bounce.
 */
function penalizeRefusal(row: MessageRow, route: Route, error: unknown): void {
  if (!route.ip && !route.domain) return;
  const code = error instanceof ProviderError ? error.code : undefined;
  let penalty: 'deferral' | 'policy_bounce' | 'reputation_bounce' | null = null;
  if (code?.startsWith('smtp_4')) penalty = 'deferral';
  else if (code?.startsWith('smtp_5')) {
    const { reason } = classifyBounce({ action: 'failed', diagnostic: (error as Error).message });
    if (countsAgainstSender(reason))
      penalty = reason === 'blocklisted_reputation' ? 'reputation_bounce' : 'policy_bounce';
  }
  if (!penalty) return;
  if (route.ip) route.penalize(row.organizationId, 'ip', route.ip, penalty);
  if (route.domain) route.penalize(row.organizationId, 'domain', route.domain, penalty);
}

/**
 * What email gets before it leaves: the VERP return path of its sending domain (else of the
 * platform's return path domain), and a DKIM signature per active key of its sending domain,
 * over the message as it will be sent.
 */
function signer(row: MessageRow, identity: SigningIdentity | undefined, envelope: Envelope) {
  const returnPath = identity?.returnPathDomain ?? envelope.returnPathDomain;
  if (row.channel !== 'email' || !returnPath) return null;
  return async (message: OutboundMessage, now: Date): Promise<OutboundMessage> => {
    if (message.channel !== 'email') return message;
    const signed = { ...message, envelopeFrom: verpAddress(row.id, returnPath) };
    if (identity?.keys.length) signed.raw = await signMessage(buildRawMessage(signed, now), identity.keys, now);
    return signed;
  };
}

async function sendWith(
  directory: ProviderDirectory,
  row: MessageRow,
  render: () => OutboundMessage,
  sign: ((message: OutboundMessage, now: Date) => Promise<OutboundMessage>) | null,
  route: Route | null,
  onHandedOver: () => void,
  now: Date,
): Promise<SendAttempt> {
  const via: SentVia = { sendingIp: route?.ip ?? null, sendingDomain: route?.domain ?? null };
  let message: OutboundMessage;
  try {
    message = render();
    if (sign) message = await sign(message, new Date());
    if (route?.ip && message.channel === 'email') message = { ...message, localAddress: route.ip };
  } catch (error) {
    return { ok: false, error: renderFailure(error), retryAt: null };
  }
  const notTried = { ok: false, error: null, retryAt: new Date(now.getTime() + NOT_TRIED_RETRY_MS) } as const;
  let provider: ResolvedProvider | null;
  try {
    provider = await directory.providerFor(row.organizationId, row.channel);
  } catch (error) {
    if (error instanceof NotTried) return notTried;
    return { ok: false, error: `no_provider: ${(error as Error).message}`, retryAt: null };
  }
  if (!provider) return { ok: false, error: 'no_provider: no default provider for this channel', retryAt: null };
  try {
    const result = await provider.send(message, onHandedOver);
    return { ok: true, providerId: result.providerId, providerMessageId: result.providerMessageId, ...via };
  } catch (error) {
    if (error instanceof NotTried) return notTried;
    if (route) penalizeRefusal(row, route, error);
    const retryable = error instanceof ProviderError ? error.retryable : true;
    const text = `provider_error: ${(error as Error).message}`.slice(0, 1000);
    if (retryable && row.attempts < MAX_ATTEMPTS)
      return { ok: false, error: text, retryAt: new Date(now.getTime() + retryDelayMs(row.attempts)) };
    return { ok: false, error: text, retryAt: null };
  }
}
