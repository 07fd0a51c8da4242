// A journey condition means what the same filter means in a CRM segment: one table of filters
// (periods, relative dates with month clamping, behaviour windows, counts, subjects, properties,
// lastActiveAt, companies) run through CRM's SQL compiler over CRM's tables and through the
// journey's in-memory evaluator over the journey's copies, in three time zones. The same events
// feed both: CRM's own consumers (and trackContactEvent) write CRM's timeline; the journey's
// projection applies the events CRM publishes or consumes. Companies and links are changed through
// CRM's use cases, and the journey's copy applies what they published.

import { crmModule } from '@mauntic/crm';
import { type FilterField, validateFilter } from '@mauntic/crm/filter';
import { selectMatching } from '@mauntic/crm/segment-sql';
import { createCrmServices } from '@mauntic/crm/services';
import {
  catalogue,
  createEvent,
  type EventEnvelope,
  newId,
  type OrganizationId,
  type RequestContext,
} from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, LocalJobQueue, runMigrations } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyActivityEvent } from '../src/app/activity-projection.ts';
import { applyCompanyEvent, COMPANY_EVENTS } from '../src/app/companies-projection.ts';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { evaluateFilter } from '../src/app/executor/contact-filter.ts';
import { loadContacts } from '../src/app/executor/contact-state.ts';
import type { JourneyDefinition } from '../src/domain/definition.ts';
import { crmContactCreated, DATABASES, type Journey, openJourney } from './harness.ts';

const NOW = new Date('2026-03-31T12:00:00Z'); // Auckland is already on 1 April; Los Angeles on 31 March.
const ZONES = ['UTC', 'America/Los_Angeles', 'Pacific/Auckland'];
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const FIELDS: FilterField[] = [
  { entity: 'contact', key: 'renewal', type: 'date', options: {} },
  { entity: 'company', key: 'size', type: 'number', options: {} },
];
const TEMPLATE = newId();
const FORM = newId();

/** The contacts: when CRM created them, their renewal day, and what they did. */
const CONTACTS = {
  a: { createdAt: '2026-03-01T03:00:00Z', renewal: '2026-02-28' },
  b: { createdAt: '2026-03-31T09:00:00Z', renewal: '2025-11-01' },
  c: { createdAt: '2026-02-15T12:00:00Z', renewal: '2026-04-08' },
  d: { createdAt: '2025-12-31T20:00:00Z', renewal: '2027-01-10' },
  e: { createdAt: '2026-03-30T23:30:00Z', renewal: '2026-03-31' },
  f: { createdAt: '2026-03-23T12:00:00Z', renewal: '2026-03-25' },
} as const;
type Name = keyof typeof CONTACTS;

const CASES: { name: string; filter: unknown }[] = [
  ...['this', 'last', 'next'].flatMap((shift) =>
    ['week', 'month', 'year'].flatMap((unit) => [
      ...(shift === 'next' // no one is created in the future
        ? []
        : [{ name: `created ${shift} ${unit}`, filter: { field: 'createdAt', op: 'eq', value: `${shift} ${unit}` } }]),
      { name: `renewal ${shift} ${unit}`, filter: { field: 'fields.renewal', op: 'eq', value: `${shift} ${unit}` } },
    ]),
  ),
  { name: 'created before this month', filter: { field: 'createdAt', op: 'lt', value: 'this month' } },
  { name: 'created after last week', filter: { field: 'createdAt', op: 'gt', value: 'last week' } },
  { name: 'renewal on or before this week', filter: { field: 'fields.renewal', op: 'lte', value: 'this week' } },
  { name: 'renewal one month ago (clamped)', filter: { field: 'fields.renewal', op: 'eq', value: '-1 month' } },
  { name: 'created one month ago or later', filter: { field: 'createdAt', op: 'gte', value: '-1 month' } },
  {
    name: 'renewal between last month and next month',
    filter: { field: 'fields.renewal', op: 'between', value: ['last month', 'next month'] },
  },
  { name: 'active in the last 2 days', filter: { field: 'lastActiveAt', op: 'gte', value: '-2 days' } },
  { name: 'never active', filter: { field: 'lastActiveAt', op: 'empty' } },
  { name: 'last active before this week', filter: { field: 'lastActiveAt', op: 'lt', value: 'this week' } },
  {
    name: 'visited a pricing page within 30 days',
    filter: { behavior: { type: 'page.visited', subjectLike: '%/pricing%', within: '30 days' } },
  },
  {
    name: 'visited pages at least twice',
    filter: { behavior: { type: 'page.visited', count: { op: 'gte', value: 2 } } },
  },
  {
    name: 'visited no page within a month',
    filter: { behavior: { type: 'page.visited', within: '1 month', count: { op: 'lt', value: 1 } } },
  },
  { name: 'opened the template', filter: { behavior: { type: 'email.opened', subject: TEMPLATE } } },
  { name: 'machine opens', filter: { behavior: { type: 'email.opened.machine' } } },
  { name: 'sent within a week', filter: { behavior: { type: 'email.sent', within: '1 week' } } },
  { name: 'clicked until 6 days ago', filter: { behavior: { type: 'email.clicked', until: '-6 days' } } },
  { name: 'clicked within 5 days', filter: { behavior: { type: 'email.clicked', within: '5 days' } } },
  {
    name: 'bought pro',
    filter: { behavior: { type: 'event', subject: 'purchase', properties: { plan: 'pro', amount: 10 } } },
  },
  {
    name: 'bought exactly twice since a week ago',
    filter: { behavior: { type: 'event', subject: 'purchase', since: '-7 days', count: { op: 'eq', value: 2 } } },
  },
  {
    name: 'bought fewer than twice',
    filter: { behavior: { type: 'event', subject: 'purchase', count: { op: 'lt', value: 2 } } },
  },
  {
    name: 'submitted the form last month',
    filter: { behavior: { type: 'form.submitted', subject: FORM, since: 'last month', until: 'last month' } },
  },
  {
    name: 'submitted a form this year but not this week',
    filter: {
      and: [
        { behavior: { type: 'form.submitted', since: 'this year' } },
        { not: { behavior: { type: 'form.submitted', since: 'this week' } } },
      ],
    },
  },
  // Acme (acme.com, 50): a (primary), b. Globex (no domain, 5): a, c. Initech (initech.io, 500): d,
  // then deleted. Hooli, renamed Hooli XYZ (hooli.com, no size): e. f was linked to Acme, then unlinked.
  { name: 'company named acme', filter: { field: 'company.name', op: 'eq', value: 'ACME' } },
  { name: 'no company named acme', filter: { field: 'company.name', op: 'neq', value: 'acme' } },
  // empty is notEmpty's complement: no company has one.
  { name: 'no company with a domain', filter: { field: 'company.domain', op: 'empty' } },
  { name: 'a company with a domain', filter: { field: 'company.domain', op: 'notEmpty' } },
  { name: 'a company of 50 or more', filter: { field: 'company.fields.size', op: 'gte', value: 50 } },
  { name: 'a company under 10', filter: { field: 'company.fields.size', op: 'lt', value: 10 } },
  { name: 'no company with a size', filter: { field: 'company.fields.size', op: 'empty' } },
  { name: 'a company as renamed', filter: { field: 'company.name', op: 'startsWith', value: 'hooli x' } },
  { name: 'no company at all', filter: { not: { field: 'company.name', op: 'notEmpty' } } },
  {
    name: 'at acme and at a company under 10',
    filter: {
      and: [
        { field: 'company.name', op: 'eq', value: 'acme' },
        { field: 'company.fields.size', op: 'lt', value: 10 },
      ],
    },
  },
];

/** What each contact did, as the events CRM consumes or publishes. */
function activityEvents(org: string, ids: Record<Name, string>) {
  const base = (contactId: string, at: Date) => ({
    organizationId: org,
    subjectId: contactId,
    correlationId: newId(),
    occurredAt: at,
  });
  const page = (n: Name, url: string, at: Date) =>
    createEvent(catalogue.content.pageVisited, {
      ...base(ids[n], at),
      data: { contactId: ids[n], url, referrer: null, pageId: null },
    });
  const form = (n: Name, formId: string, at: Date) =>
    createEvent(catalogue.content.formSubmitted, {
      ...base(ids[n], at),
      data: { contactId: ids[n], formId, fields: { email: 'x@example.com' }, pageUrl: null },
    });
  const message = (n: Name) => ({
    messageId: newId(),
    contactId: ids[n],
    channel: 'email' as const,
    address: `${n}@example.com`,
    templateId: TEMPLATE,
    source: { kind: 'journey' as const, id: null, stepId: null },
  });
  const d = catalogue.delivery;
  return [
    page('a', 'https://x.com/pricing', ago(2 * DAY)),
    page('a', 'https://x.com/blog', ago(40 * DAY)),
    page('e', 'https://x.com/PRICING/team', ago(29 * DAY + 23 * HOUR)),
    page('f', 'https://x.com/pricing', ago(31 * DAY)),
    page('f', 'https://x.com/home', ago(5 * DAY)),
    form('a', FORM, new Date('2026-02-27T10:00:00Z')),
    form('c', FORM, new Date('2026-03-01T02:00:00Z')),
    form('e', newId(), ago(HOUR)),
    createEvent(d.messageOpened, { ...base(ids.a, ago(HOUR)), data: { ...message('a'), machine: false } }),
    createEvent(d.messageOpened, { ...base(ids.b, ago(HOUR)), data: { ...message('b'), machine: true } }),
    createEvent(d.messageSent, { ...base(ids.b, ago(6 * DAY + HOUR)), data: message('b') }),
    createEvent(d.messageSent, { ...base(ids.c, ago(2 * DAY)), data: message('c') }),
    createEvent(d.messageClicked, {
      ...base(ids.c, ago(4 * DAY)),
      data: { ...message('c'), url: 'https://x.com', machine: false },
    }),
    createEvent(d.messageClicked, {
      ...base(ids.a, ago(10 * DAY)),
      data: { ...message('a'), url: 'https://x.com', machine: false },
    }),
    createEvent(d.messageClicked, {
      ...base(ids.d, ago(4 * DAY)),
      data: { ...message('d'), url: 'https://x.com', machine: true },
    }),
  ];
}

/** Custom events, reported to CRM as an integrator would (CRM publishes them for the journey). */
const PURCHASES: { n: Name; plan: string; amount: number | string; at: Date }[] = [
  { n: 'b', plan: 'pro', amount: 10, at: ago(3 * DAY) },
  { n: 'b', plan: 'free', amount: 0, at: ago(6 * DAY) },
  { n: 'c', plan: 'pro', amount: '10', at: ago(2 * DAY) },
  { n: 'e', plan: 'pro', amount: 10, at: ago(20 * DAY) },
  { n: 'e', plan: 'pro', amount: 10, at: ago(21 * DAY) },
  { n: 'e', plan: 'pro', amount: 10, at: ago(22 * DAY) },
];

/** The companies of the table's company cases, made and linked through CRM's use cases. */
async function changeCompanies(
  crm: ReturnType<typeof createCrmServices>,
  ctx: RequestContext,
  ids: Record<Name, string>,
) {
  const must = <T>(result: { ok: true; value: T } | { ok: false; error: unknown }): T => {
    if (!result.ok) throw new Error(JSON.stringify(result.error));
    return result.value;
  };
  must(await crm.createField(ctx, { entity: 'company', key: 'size', label: 'Size', type: 'number' }));
  const company = async (name: string, domain: string | null, size?: number) =>
    must(await crm.createCompany(ctx, { name, domain, ...(size === undefined ? {} : { fields: { size } }) })).id;
  const acme = await company('Acme', 'acme.com', 50);
  const globex = await company('Globex', null, 5);
  const initech = await company('Initech', 'initech.io', 500);
  const hooli = await company('Hooli', null);
  const link = async (n: Name, companyId: string, primary = false, linked = true) =>
    must(await crm.linkCompany(ctx, { contactId: ids[n], companyId, primary }, linked));
  await link('a', acme, true);
  await link('a', globex);
  await link('b', acme);
  await link('c', globex);
  await link('d', initech);
  await link('e', hooli);
  await link('f', acme);
  await link('f', acme, false, false);
  must(await crm.updateCompany(ctx, hooli, { name: 'Hooli XYZ', domain: 'hooli.com' }));
  must(await crm.deleteCompany(ctx, initech));
}

describe.each(DATABASES)('journey conditions against CRM segment SQL (%s)', (_db, open) => {
  let env: Journey;
  let handle: DatabaseHandle;
  let queue: LocalJobQueue;
  const org = newId() as OrganizationId;
  const ids = Object.fromEntries(Object.keys(CONTACTS).map((n) => [n, newId()])) as Record<Name, string>;
  const nameOf = new Map(Object.entries(ids).map(([n, id]) => [id, n]));

  beforeAll(async () => {
    env = await openJourney(open, () => NOW);
    handle = env.handle;
    await runMigrations(handle, crmModule().migrations);
    const logger = createLogger('journey-test', 'silent');
    queue = new LocalJobQueue({ logger });
    const crm = createCrmServices({ handle, queue, logger, now: () => NOW });
    for (const job of crm.jobs()) queue.register(job);
    await queue.start();
    for (const [n, c] of Object.entries(CONTACTS)) {
      const id = ids[n as Name];
      const fields = c.renewal ? { renewal: c.renewal } : {};
      await handle.db.execute(sql`insert into crm.contacts (id, organization_id, email, fields, created_at)
        values (${id}, ${org}, ${`${n}@example.com`}, ${JSON.stringify(fields)}::jsonb, ${c.createdAt}::timestamptz)`);
      await applyCrmEvent(
        env.services.deps,
        crmContactCreated(org, id, { email: `${n}@example.com`, fields }, new Date(c.createdAt)),
      );
    }
    const crmSubscriptions = crm.subscriptions();
    const journeyEvents: EventEnvelope[] = activityEvents(org, ids);
    for (const event of journeyEvents) {
      const subscription = crmSubscriptions.find((s) => s.types?.includes(event.type))!;
      await subscription.handle(event, { attempt: 1, topic: 'test' });
    }
    const ctx = {
      correlationId: newId(),
      actor: { type: 'user', id: newId() },
      organizationId: org,
      role: 'owner',
      scopes: ['*:write', '*:admin'],
    } as const;
    for (const p of PURCHASES) {
      const tracked = await crm.trackContactEvent(ctx as never, {
        contactId: ids[p.n],
        name: 'purchase',
        properties: { plan: p.plan, amount: p.amount },
        occurredAt: p.at,
      });
      expect(tracked.ok).toBe(true);
    }
    const published = await handle.rows<{ envelope: EventEnvelope | string }>(
      sql`select envelope from crm.outbox where organization_id = ${org} and type = ${catalogue.crm.contactEventTracked.type} order by seq`,
    );
    for (const row of published)
      journeyEvents.push(typeof row.envelope === 'string' ? JSON.parse(row.envelope) : row.envelope);
    expect(published).toHaveLength(PURCHASES.length);
    for (const event of journeyEvents) await applyActivityEvent(env.services.deps, event);
    await changeCompanies(crm, ctx as never, ids);
    const companyEvents = await handle.rows<{ envelope: EventEnvelope | string }>(
      sql`select envelope from crm.outbox where organization_id = ${org}
        and type in (${sql.join(
          COMPANY_EVENTS.map((e) => sql`${e.type}`),
          sql`, `,
        )}) order by seq`,
    );
    for (const row of companyEvents)
      await applyCompanyEvent(
        env.services.deps,
        typeof row.envelope === 'string' ? JSON.parse(row.envelope) : row.envelope,
      );
  });
  afterAll(async () => {
    await queue?.stop();
    await env?.close();
  });

  it.each(ZONES)('every filter of the table selects the same contacts in %s', async (timeZone) => {
    const definition = {
      steps: Object.fromEntries(
        CASES.map((c, i) => [`c${i}`, { type: 'condition', filter: c.filter, yes: 'x', no: 'x' }]),
      ),
    } as unknown as JourneyDefinition;
    const contactOf = await loadContacts(
      handle.db,
      Object.values(ids).map((contactId) => ({ organizationId: org, contactId, definition })),
      NOW,
    );
    const rows = [];
    for (const c of CASES) {
      const checked = validateFilter(c.filter, { fields: FIELDS, segmentExists: () => false });
      if (!checked.ok) throw new Error(`${c.name}: ${JSON.stringify(checked.error)}`);
      const crm = (mode: 'rebuild' | 'single') =>
        selectMatching(handle, checked.value, { organizationId: org, now: NOW, timeZone, mode }).then((found) =>
          found.map((id) => nameOf.get(id)!).sort(),
        );
      const [rebuild, single] = await Promise.all([crm('rebuild'), crm('single')]);
      const journey = Object.entries(ids)
        .filter(([, id]) => {
          const result = evaluateFilter(c.filter, contactOf({ organizationId: org, contactId: id }), {
            now: NOW,
            timeZone,
          });
          expect(result.unsupported, c.name).toEqual([]);
          return result.matches;
        })
        .map(([n]) => n)
        .sort();
      rows.push({ case: c.name, crm: rebuild.join(''), single: single.join(''), journey: journey.join('') });
    }
    expect(rows.map((r) => `${r.case}: ${r.journey}`)).toEqual(rows.map((r) => `${r.case}: ${r.crm}`));
    expect(rows.every((r) => r.single === r.crm)).toBe(true);
    // Each filter sorts the contacts: none matches everyone or no one, in UTC (the table's design).
    if (timeZone === 'UTC') {
      const degenerate = rows.filter((r) => r.crm === '' || r.crm === 'abcdef');
      expect(degenerate.map((r) => r.case)).toEqual([]);
    }
  });
});
