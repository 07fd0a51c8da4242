// The journeys' copy of CRM's companies and of each contact's list of them, kept from CRM's events
// through the context's subscription: each event applied once however often it is delivered, the
// newest company or list winning over an older one arriving late, deleted companies kept as
// tombstones that conditions skip; and company conditions evaluated on what loadContacts reads of it.
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateFilter } from '../src/app/executor/contact-filter.ts';
import { loadContacts } from '../src/app/executor/contact-state.ts';
import { companies, contactCompanies } from '../src/db/schema.ts';
import type { JourneyDefinition } from '../src/domain/definition.ts';
import { crmContactCreated, DATABASES, type Journey, newOrg, openJourney } from './harness.ts';

const logger = createLogger('journey-test', 'silent');
const c = catalogue.crm;
const T0 = Date.parse('2026-05-01T10:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

const base = (organizationId: string, subjectId: string, minutes: number) => ({
  organizationId,
  subjectId,
  correlationId: newId(),
  occurredAt: at(minutes),
});
const company = (
  kind: 'companyCreated' | 'companyUpdated',
  org: string,
  id: string,
  minutes: number,
  values: { name: string; domain?: string | null; fields?: Record<string, unknown> },
) =>
  createEvent(c[kind], {
    ...base(org, id, minutes),
    data: { company: { domain: null, fields: {}, ...values } },
  });
const companyDeleted = (org: string, id: string, minutes: number) =>
  createEvent(c.companyDeleted, { ...base(org, id, minutes), data: {} });
const linked = (org: string, contactId: string, minutes: number, companyIds: string[], primary: string | null = null) =>
  createEvent(c.contactCompaniesChanged, {
    ...base(org, contactId, minutes),
    data: { companyIds, primaryCompanyId: primary },
  });

describe.each(DATABASES)('the companies projection (%s, local bus)', (_name, open) => {
  let env: Journey;
  let bus: LocalEventBus;
  beforeAll(async () => {
    env = await openJourney(open);
    bus = new LocalEventBus({ logger });
    for (const subscription of env.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
  });
  afterAll(async () => {
    await bus?.stop();
    await env?.close();
  });

  const companyRow = async (id: string) =>
    (await env.handle.db.select().from(companies).where(eq(companies.id, id)))[0];
  const listOf = async (contactId: string) =>
    (await env.handle.db.select().from(contactCompanies).where(eq(contactCompanies.contactId, contactId)))[0];

  it('keeps the newest company: an older update arriving late does not roll it back', async () => {
    const { organizationId: org } = newOrg();
    const id = newId();
    await bus.publish([company('companyCreated', org, id, 0, { name: 'Acme', fields: { size: 5 } })]);
    await bus.publish([company('companyUpdated', org, id, 2, { name: 'Acme Inc', domain: 'acme.com' })]);
    await bus.publish([company('companyUpdated', org, id, 1, { name: 'Acme Old', fields: { size: 9 } })]);
    expect(await companyRow(id)).toMatchObject({
      organizationId: org,
      name: 'Acme Inc',
      domain: 'acme.com',
      fields: {},
      deleted: false,
      updatedAt: at(2),
    });
  });

  it('keeps a deleted company as a tombstone without its values, that late events do not revive', async () => {
    const { organizationId: org } = newOrg();
    const id = newId();
    await bus.publish([company('companyCreated', org, id, 0, { name: 'Acme', domain: 'acme.com' })]);
    await bus.publish([companyDeleted(org, id, 1)]);
    await bus.publish([company('companyUpdated', org, id, 5, { name: 'Back', domain: 'back.com' })]);
    expect(await companyRow(id)).toMatchObject({ name: '', domain: null, fields: {}, deleted: true });
    // A delete that arrives before anything else of its company leaves a tombstone too.
    const early = newId();
    await bus.publish([companyDeleted(org, early, 1)]);
    await bus.publish([company('companyCreated', org, early, 0, { name: 'Late' })]);
    expect(await companyRow(early)).toMatchObject({ name: '', deleted: true });
  });

  it("keeps each contact's newest list of companies, an empty one included", async () => {
    const { organizationId: org } = newOrg();
    const [ada, acme, globex] = [newId(), newId(), newId()];
    await bus.publish([linked(org, ada, 0, [acme])]);
    await bus.publish([linked(org, ada, 2, [globex, acme], globex)]);
    await bus.publish([linked(org, ada, 1, [acme])]);
    expect(await listOf(ada)).toMatchObject({ companyIds: [globex, acme], primaryCompanyId: globex, updatedAt: at(2) });
    await bus.publish([linked(org, ada, 3, [])]);
    expect(await listOf(ada)).toMatchObject({ companyIds: [], primaryCompanyId: null });
  });

  it("takes a deleted company field's values out of the companies, not a contact field's", async () => {
    const { organizationId: org } = newOrg();
    const [acme, other] = [newId(), newId()];
    await bus.publish([company('companyCreated', org, acme, 0, { name: 'Acme', fields: { size: 5, tier: 'a' } })]);
    await bus.publish([
      company('companyCreated', newOrg().organizationId, other, 0, { name: 'X', fields: { size: 1 } }),
    ]);
    const fieldDeleted = (entity: 'contact' | 'company', key: string) =>
      createEvent(c.fieldDeleted, {
        organizationId: org,
        subjectId: newId(),
        correlationId: newId(),
        data: { entity, key, type: 'number', options: {} },
      });
    await bus.publish([fieldDeleted('contact', 'tier'), fieldDeleted('company', 'size')]);
    expect((await companyRow(acme))?.fields).toEqual({ tier: 'a' });
    expect((await companyRow(other))?.fields).toEqual({ size: 1 });
  });

  it('applies each event once, however often it is delivered', async () => {
    const { organizationId: org } = newOrg();
    const [ada, acme] = [newId(), newId()];
    const created = company('companyCreated', org, acme, 0, { name: 'Acme' });
    const list = linked(org, ada, 0, [acme], acme);
    const deleted = companyDeleted(org, acme, 1);
    for (const event of [created, list, created, deleted, list, deleted, created]) await bus.publish([event]);
    expect(await companyRow(acme)).toMatchObject({ deleted: true });
    expect(await listOf(ada)).toMatchObject({ companyIds: [acme] });
    const [applied] = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from journey.processed_events where organization_id = ${org} and consumer = 'journey-companies'`,
    );
    expect(applied!.n).toBe(3);
  });

  it('a company condition holds for a contact when any of its companies matches, deleted companies skipped', async () => {
    const { organizationId: org } = newOrg();
    const [ada, bob, cy, dee] = [newId(), newId(), newId(), newId()];
    const [acme, globex, initech] = [newId(), newId(), newId()];
    for (const id of [ada, bob, cy, dee]) await bus.publish([crmContactCreated(org, id, {})]);
    await bus.publish([
      company('companyCreated', org, acme, 0, { name: 'Acme', domain: 'acme.com', fields: { size: 50 } }),
      company('companyCreated', org, globex, 0, { name: 'Globex', fields: { size: 5 } }),
      company('companyCreated', org, initech, 0, { name: 'Initech', domain: 'initech.io', fields: { size: 500 } }),
      linked(org, ada, 0, [globex, acme], globex),
      linked(org, bob, 0, [globex]),
      linked(org, cy, 0, [initech]),
      companyDeleted(org, initech, 1),
    ]);
    // Another organization's contact with the same company id in its list does not see the company.
    const stranger = newOrg().organizationId;
    const eve = newId();
    await bus.publish([crmContactCreated(stranger, eve, {}), linked(stranger, eve, 0, [acme])]);

    const definition = { steps: {} } as unknown as JourneyDefinition;
    const runs = [
      ...[ada, bob, cy, dee].map((contactId) => ({ organizationId: org, contactId, definition })),
      { organizationId: stranger, contactId: eve, definition },
    ];
    const contactOf = await loadContacts(env.handle.db, runs, new Date());
    const matching = (filter: unknown) =>
      runs
        .filter((run) => {
          const result = evaluateFilter(filter, contactOf(run), { now: new Date(), timeZone: 'UTC' });
          expect(result.unsupported).toEqual([]);
          return result.matches;
        })
        .map((run) => [ada, bob, cy, dee, eve].indexOf(run.contactId));
    expect(matching({ field: 'company.name', op: 'eq', value: 'acme' })).toEqual([0]);
    expect(matching({ field: 'company.domain', op: 'endsWith', value: '.com' })).toEqual([0]);
    expect(matching({ field: 'company.fields.size', op: 'lt', value: 100 })).toEqual([0, 1]);
    expect(matching({ field: 'company.fields.size', op: 'gte', value: 100 })).toEqual([]);
    expect(matching({ field: 'company.name', op: 'neq', value: 'acme' })).toEqual([1, 2, 3, 4]);
    expect(matching({ not: { field: 'company.name', op: 'notEmpty' } })).toEqual([2, 3, 4]);
  });
});
