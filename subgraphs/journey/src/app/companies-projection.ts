// The journey context's copy of CRM's companies and of which companies each contact works at, for
// company conditions: kept from CRM's events, each applied once, the newest event winning (a
// company's events are keyed by the company, a contact's lists by the contact, so the two kinds
// may arrive in any order relative to each other: a list may name a company not copied yet).
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type Executor } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { companies, contactCompanies, processedEvents } from '../db/schema.ts';
import type { JourneyDeps } from './deps.ts';

export const COMPANIES_CONSUMER = 'journey-companies';

const c = catalogue.crm;

export const COMPANY_EVENTS = [
  c.companyCreated,
  c.companyUpdated,
  c.companyDeleted,
  c.contactCompaniesChanged,
  c.fieldDeleted,
];

/** Applies one event to the copy unless this consumer already did; true if it applied it. */
export function applyCompanyEvent(deps: JourneyDeps, event: EventEnvelope): Promise<boolean> {
  return applyOnce(deps.handle.db, processedEvents, COMPANIES_CONSUMER, event, (tx) => apply(tx, event));
}

async function apply(tx: Executor, event: EventEnvelope) {
  const org = event.organizationId;
  const id = event.subject.id;
  const at = new Date(event.occurredAt);
  switch (event.type) {
    case c.companyCreated.type:
    case c.companyUpdated.type: {
      const { company } = c.companyCreated.data.parse(event.data);
      const values = { name: company.name, domain: company.domain, fields: company.fields, updatedAt: at };
      await tx
        .insert(companies)
        .values({ id, organizationId: org, ...values })
        .onConflictDoUpdate({
          target: companies.id,
          set: values,
          // A replay must not roll a newer copy back, nor bring a deleted company back.
          setWhere: sql`${companies.organizationId} = ${org} and ${companies.updatedAt} <= ${event.occurredAt} and not ${companies.deleted}`,
        });
      break;
    }
    case c.companyDeleted.type: {
      // A tombstone, not a delete: an older event arriving late finds the row and leaves it gone.
      const erased = { name: '', domain: null, fields: {}, deleted: true, updatedAt: at };
      await tx
        .insert(companies)
        .values({ id, organizationId: org, ...erased })
        .onConflictDoUpdate({ target: companies.id, set: erased, setWhere: sql`${companies.organizationId} = ${org}` });
      break;
    }
    case c.contactCompaniesChanged.type: {
      const { companyIds, primaryCompanyId } = c.contactCompaniesChanged.data.parse(event.data);
      const values = { companyIds, primaryCompanyId, updatedAt: at };
      await tx
        .insert(contactCompanies)
        .values({ contactId: id, organizationId: org, ...values })
        .onConflictDoUpdate({
          target: contactCompanies.contactId,
          set: values,
          setWhere: sql`${contactCompanies.organizationId} = ${org} and ${contactCompanies.updatedAt} <= ${event.occurredAt}`,
        });
      break;
    }
    case c.fieldDeleted.type: {
      // CRM deleted a company field's values with it.
      const { entity, key } = c.fieldDeleted.data.parse(event.data);
      if (entity !== 'company') break;
      await tx
        .update(companies)
        .set({ fields: sql`${companies.fields} - ${key}::text` })
        .where(and(eq(companies.organizationId, org), sql`${companies.fields} -> ${key}::text is not null`));
      break;
    }
  }
}
