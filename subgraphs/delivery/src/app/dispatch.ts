// What the engine does to a claimed batch before anything leaves: one query each for templates,
// contacts, suppressions, settings and frequency counts; then per message a decision (send, skip,
// defer, fail) and, for sends, how to render the message and the provider to send it with.
import type { DatabaseHandle, Logger } from '@mauntic/platform';
import { inArray, sql } from 'drizzle-orm';
import { contacts, messages, settings, suppressions, templates } from '../db/schema.ts';
import { MAX_ATTEMPTS, type QuietHours, quietHoursDecision, retryDelayMs } from '../domain/policy.ts';
import type { OutboundMessage } from '../providers/types.ts';
import { ProviderError } from '../providers/types.ts';
import type { ProviderDirectory, ResolvedProvider } from './provider-directory.ts';
import { type ContactForRender, type MessageRenderer, renderFailure, type Sender } from './render-message.ts';

type MessageRow = typeof messages.$inferSelect;
type TemplateRow = Pick<typeof templates.$inferSelect, 'id' | 'version' | 'channel' | 'category' | 'compiled'>;

export type SendAttempt =
  | { ok: true; providerId: string | null; providerMessageId: string | null }
  | { ok: false; error: string; retryAt: Date | null };

export type PreparedItem =
  | { kind: 'send'; row: MessageRow; send(onHandedOver: () => void): Promise<SendAttempt> }
  | { kind: 'skip'; row: MessageRow; reason: string }
  | { kind: 'fail'; row: MessageRow; reason: string }
  | { kind: 'defer'; row: MessageRow; until: Date };

export interface DeliveryDispatcher {
  prepare(rows: MessageRow[], now: Date): Promise<PreparedItem[]>;
  close(): Promise<void>;
}

interface OrgSettings {
  frequencyCaps: Record<string, { max: number; periodSeconds: number }>;
  quietHours: QuietHours | null;
  sender: Sender;
}

/** The From of email whose template and organization name none. */
export const FALLBACK_SENDER = 'no-reply@localhost';

export interface DispatcherOptions {
  handle: DatabaseHandle;
  logger: Logger;
  providers: ProviderDirectory;
  renderer: MessageRenderer;
  /** How long a template, settings or provider read stays cached. */
  cacheMs?: number;
}

export function createDispatcher(options: DispatcherOptions): DeliveryDispatcher {
  const { handle, providers, renderer } = options;
  const cacheMs = options.cacheMs ?? 5000;
  const templateCache = new Map<string, { at: number; row: TemplateRow }>();
  const settingsCache = new Map<string, { at: number; value: OrgSettings }>();

  async function loadTemplates(ids: string[], now: number): Promise<Map<string, TemplateRow>> {
    const out = new Map<string, TemplateRow>();
    const stale = ids.filter((id) => {
      const hit = templateCache.get(id);
      if (hit && now - hit.at < cacheMs) out.set(id, hit.row);
      return !out.has(id);
    });
    if (stale.length) {
      const rows = await handle.rows<TemplateRow & { compiled: Record<string, unknown> }>(sql`
        select id, version, channel, category, compiled from ${templates} where ${inArray(templates.id, stale)}`);
      for (const row of rows) {
        templateCache.set(row.id, { at: now, row });
        out.set(row.id, row);
      }
    }
    return out;
  }

  async function loadSettings(orgs: string[], now: number): Promise<Map<string, OrgSettings>> {
    const out = new Map<string, OrgSettings>();
    const stale = orgs.filter((org) => {
      const hit = settingsCache.get(org);
      if (hit && now - hit.at < cacheMs) out.set(org, hit.value);
      return !out.has(org);
    });
    if (stale.length) {
      const rows = await handle.rows<{
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
        settingsCache.set(org, { at: now, value });
        out.set(org, value);
      }
    }
    return out;
  }

  /** The batch's contacts, each only within its message's organization; deleted ones are absent. */
  async function loadContacts(
    batch: MessageRow[],
  ): Promise<Map<string, ContactForRender & { doNotContact: string[] }>> {
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

  async function loadSuppressions(rows: MessageRow[]): Promise<Map<string, string>> {
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
  async function loadCounts(rows: MessageRow[], orgSettings: Map<string, OrgSettings>): Promise<Map<string, number>> {
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

  return {
    async prepare(rows, now) {
      const at = now.getTime();
      const [tpl, orgSettings, people, suppressed] = await Promise.all([
        loadTemplates([...new Set(rows.map((r) => r.templateId).filter((id): id is string => Boolean(id)))], at),
        loadSettings([...new Set(rows.map((r) => r.organizationId))], at),
        loadContacts(rows),
        loadSuppressions(rows),
      ]);
      const counts = await loadCounts(rows, orgSettings);
      const taken = new Map<string, number>();
      const items: PreparedItem[] = [];
      for (const row of rows) {
        const template = row.templateId ? tpl.get(row.templateId) : undefined;
        if (!template) {
          items.push({ kind: 'fail', row, reason: 'render_error: the template was deleted' });
          continue;
        }
        const marketing = template.category !== 'transactional';
        const contact = row.contactId ? people.get(row.contactId) : undefined;
        if (row.contactId && !contact) {
          items.push({ kind: 'skip', row, reason: 'do_not_contact: the contact was deleted' });
          continue;
        }
        const suppression = suppressed.get(`${row.organizationId}|${row.channel}|${row.address.toLowerCase()}`);
        if (suppression && (marketing || suppression !== 'unsubscribe')) {
          items.push({ kind: 'skip', row, reason: `suppressed: ${suppression}` });
          continue;
        }
        if (marketing && contact?.doNotContact.includes(row.channel)) {
          items.push({ kind: 'skip', row, reason: 'do_not_contact' });
          continue;
        }
        const policy = orgSettings.get(row.organizationId)!;
        if (marketing && row.sourceKind !== 'transactional') {
          const cap = policy.frequencyCaps[row.channel];
          if (cap && row.contactId) {
            const key = `${row.contactId}|${row.channel}`;
            const already = (counts.get(key) ?? 0) + (taken.get(key) ?? 0);
            if (already >= cap.max) {
              items.push({ kind: 'skip', row, reason: `frequency_cap: ${cap.max} per ${cap.periodSeconds} s` });
              continue;
            }
            taken.set(key, (taken.get(key) ?? 0) + 1);
          }
          const quiet = quietHoursDecision(now, contact?.timezone ?? null, policy.quietHours);
          if (quiet === 'drop') {
            items.push({ kind: 'skip', row, reason: 'quiet_hours' });
            continue;
          }
          if (quiet instanceof Date) {
            items.push({ kind: 'defer', row, until: quiet });
            continue;
          }
        }
        // Rendered when it is sent, not here: a batch of rendered pages held through the send
        // phase outlived the young generation, and copying them doubled the engine's GC time.
        const render = () => renderer.render(row, template, contact ?? null, marketing, policy.sender);
        items.push({ kind: 'send', row, send: (onHandedOver) => sendWith(providers, row, render, onHandedOver, now) });
      }
      return items;
    },
    close: () => providers.close(),
  };
}

async function sendWith(
  directory: ProviderDirectory,
  row: MessageRow,
  render: () => OutboundMessage,
  onHandedOver: () => void,
  now: Date,
): Promise<SendAttempt> {
  let message: OutboundMessage;
  try {
    message = render();
  } catch (error) {
    return { ok: false, error: renderFailure(error), retryAt: null };
  }
  let provider: ResolvedProvider | null;
  try {
    provider = await directory.providerFor(row.organizationId, row.channel);
  } catch (error) {
    return { ok: false, error: `no_provider: ${(error as Error).message}`, retryAt: null };
  }
  if (!provider) return { ok: false, error: 'no_provider: no default provider for this channel', retryAt: null };
  try {
    const result = await provider.send(message, onHandedOver);
    return { ok: true, providerId: result.providerId, providerMessageId: result.providerMessageId };
  } catch (error) {
    const retryable = error instanceof ProviderError ? error.retryable : true;
    const text = `provider_error: ${(error as Error).message}`.slice(0, 1000);
    if (retryable && row.attempts < MAX_ATTEMPTS)
      return { ok: false, error: text, retryAt: new Date(now.getTime() + retryDelayMs(row.attempts)) };
    return { ok: false, error: text, retryAt: null };
  }
}
