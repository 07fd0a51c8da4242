// Companies, with their own custom fields, and the links between contacts and companies (many
// per contact, at most one primary). Segment filters read companies, so changes re-evaluate
// the linked contacts; journeys keep a copy, so each change publishes its crm.company.* or
// crm.contact.companies-changed event in its transaction.
import {
  authorize,
  catalogue,
  createEvent,
  type EventEnvelope,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { companies, contactCompanies, contacts, outbox } from '../db/schema.ts';
import { checkFieldValue } from '../domain/field-types.ts';
import type { ContactRow } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { fieldDefinitionRows, toDefinition } from './fields.ts';
import { reevaluateMemberships } from './segment-membership.ts';
import { scheduleRebuildsReading } from './segments.ts';

export type CompanyRow = typeof companies.$inferSelect;
/** A company as seen from one of its contacts. */
export type LinkedCompany = CompanyRow & { isPrimary: boolean };

/** Above this many linked contacts a company change rebuilds the segments that read companies instead. */
const INLINE_REEVALUATION_LIMIT = 2000;

export const companyInput = z.object({
  name: z.string().trim().min(1).max(255).optional(),
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a domain like example.com')
    .nullable()
    .optional(),
  fields: z.record(z.string(), z.unknown()).optional(),
});

async function checkCompanyFields(deps: CrmDeps, organizationId: string, fields: Record<string, unknown> | undefined) {
  const definitions = new Map(
    (await fieldDefinitionRows(deps, organizationId, 'company')).map((f) => [f.key, toDefinition(f)]),
  );
  const values: Record<string, unknown> = {};
  const issues: { path: string[]; message: string }[] = [];
  for (const [key, raw] of Object.entries(fields ?? {})) {
    const def = definitions.get(key);
    if (!def) {
      issues.push({ path: ['input', 'fields', key], message: 'is not a company field of this organization' });
      continue;
    }
    const check = checkFieldValue(def, raw);
    if (check.ok) values[key] = check.value;
    else issues.push({ path: ['input', 'fields', key], message: check.message });
  }
  return { values, issues };
}

const companyEvent = (
  def: typeof catalogue.crm.companyCreated | typeof catalogue.crm.companyUpdated,
  row: CompanyRow,
  correlationId: string,
) =>
  createEvent(def, {
    organizationId: row.organizationId,
    subjectId: row.id,
    correlationId,
    data: { company: { name: row.name, domain: row.domain, fields: row.fields } },
  });

/** crm.contact.companies-changed: the contact's companies as they stand (primary first). */
const linksChanged = (
  organizationId: string,
  contactId: string,
  linked: readonly { id: string; isPrimary: boolean }[],
  correlationId: string,
) =>
  createEvent(catalogue.crm.contactCompaniesChanged, {
    organizationId,
    subjectId: contactId,
    correlationId,
    data: { companyIds: linked.map((c) => c.id), primaryCompanyId: linked.find((c) => c.isPrimary)?.id ?? null },
  });

/** The contact's companies changed in this transaction (a merge's winner): its event with the list as it now stands. */
export async function companyLinksEvent(
  tx: Executor,
  organizationId: string,
  contactId: string,
  correlationId: string,
) {
  return linksChanged(organizationId, contactId, await companiesOfInTx(tx, organizationId, contactId), correlationId);
}

/**
 * Unlinks a contact that is going away (deleted, erased, merged) from its companies; gives the
 * event that says so, if it had any.
 */
export async function dropCompanyLinks(
  tx: Executor,
  organizationId: string,
  contactId: string,
  correlationId: string,
): Promise<EventEnvelope[]> {
  const dropped = await tx
    .delete(contactCompanies)
    .where(and(eq(contactCompanies.organizationId, organizationId), eq(contactCompanies.contactId, contactId)))
    .returning({ companyId: contactCompanies.companyId });
  return dropped.length ? [linksChanged(organizationId, contactId, [], correlationId)] : [];
}

async function reevaluateLinked(
  tx: Executor,
  deps: CrmDeps,
  organizationId: string,
  companyId: string,
  correlationId: string,
) {
  const linked = await tx
    .select({ id: contactCompanies.contactId })
    .from(contactCompanies)
    .where(and(eq(contactCompanies.organizationId, organizationId), eq(contactCompanies.companyId, companyId)))
    .limit(INLINE_REEVALUATION_LIMIT + 1);
  if (linked.length > INLINE_REEVALUATION_LIMIT) return 'too-many' as const;
  await reevaluateMemberships(tx, deps, {
    organizationId,
    contactIds: linked.map((l) => l.id),
    changed: ['company'],
    correlationId,
  });
  return 'done' as const;
}

export async function createCompany(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof companyInput>) {
  const access = authorize(ctx, 'crm:write', companyInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  if (!input.name) return fail(new ValidationError([{ path: ['input', 'name'], message: 'is required' }]));
  const { values, issues } = await checkCompanyFields(deps, organizationId, input.fields);
  if (issues.length) return fail(new ValidationError(issues));
  const name = input.name;
  return deps.handle.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(companies)
      .values({
        id: newId(),
        organizationId,
        name,
        domain: input.domain ?? null,
        fields: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null)),
      })
      .returning();
    await appendEvents(tx, outbox, [companyEvent(catalogue.crm.companyCreated, row!, ctx.correlationId)]);
    return ok(row!);
  });
}

export async function updateCompany(deps: CrmDeps, ctx: RequestContext, id: string, raw: z.input<typeof companyInput>) {
  const access = authorize(ctx, 'crm:write', companyInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { values, issues } = await checkCompanyFields(deps, organizationId, input.fields);
  if (issues.length) return fail(new ValidationError(issues));
  return deps.handle.db.transaction(async (tx): Promise<Result<CompanyRow, NotFoundError>> => {
    const put = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null));
    const drop = Object.keys(values).filter((k) => values[k] === null);
    const [row] = await tx
      .update(companies)
      .set({
        ...(input.name ? { name: input.name } : {}),
        ...(input.domain !== undefined ? { domain: input.domain } : {}),
        fields: sql`(${companies.fields} || ${JSON.stringify(put)}::jsonb) - array(select jsonb_array_elements_text(${JSON.stringify(drop)}::jsonb))`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(companies.id, id), eq(companies.organizationId, organizationId)))
      .returning();
    if (!row) return fail(new NotFoundError('Company', id));
    await appendEvents(tx, outbox, [companyEvent(catalogue.crm.companyUpdated, row, ctx.correlationId)]);
    const outcome = await reevaluateLinked(tx, deps, organizationId, id, ctx.correlationId);
    if (outcome === 'too-many')
      deps.logger.info({ companyId: id }, 'many linked contacts; segments catch up on rebuild');
    return ok(row);
  });
}

/**
 * Deletes a company and its links to contacts. The linked contacts' company conditions are
 * re-evaluated in the same transaction; when there are too many of them, the segments that
 * read companies are rebuilt in the background once the delete has committed.
 */
export async function deleteCompany(deps: CrmDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const deleted = await deps.handle.db.transaction(
    async (tx): Promise<Result<{ row: CompanyRow; outcome: 'done' | 'too-many' }, NotFoundError>> => {
      const [company] = await tx
        .select({ id: companies.id })
        .from(companies)
        .where(and(eq(companies.id, id), eq(companies.organizationId, organizationId)))
        .for('update');
      if (!company) return fail(new NotFoundError('Company', id));
      const linked = await tx
        .delete(contactCompanies)
        .where(and(eq(contactCompanies.organizationId, organizationId), eq(contactCompanies.companyId, id)))
        .returning({ contactId: contactCompanies.contactId });
      const [row] = await tx
        .delete(companies)
        .where(and(eq(companies.id, id), eq(companies.organizationId, organizationId)))
        .returning();
      await appendEvents(tx, outbox, [
        createEvent(catalogue.crm.companyDeleted, {
          organizationId,
          subjectId: id,
          correlationId: ctx.correlationId,
          data: {},
        }),
      ]);
      if (linked.length > INLINE_REEVALUATION_LIMIT) return ok({ row: row!, outcome: 'too-many' });
      await reevaluateMemberships(tx, deps, {
        organizationId,
        contactIds: linked.map((l) => l.contactId),
        changed: ['company'],
        correlationId: ctx.correlationId,
      });
      return ok({ row: row!, outcome: 'done' });
    },
  );
  if (!deleted.ok) return deleted;
  if (deleted.value.outcome === 'too-many')
    await scheduleRebuildsReading(deps, organizationId, 'company', ctx.correlationId);
  return ok(deleted.value.row);
}

export const linkInput = z.object({ contactId: z.uuid(), companyId: z.uuid(), primary: z.boolean().default(false) });

/**
 * Links a contact to a company (idempotent); `primary` makes it the contact's one primary company.
 * Gives back the contact and its companies after the change. The contact is locked, so the
 * contact's link events are written in the order their changes commit.
 */
export async function linkCompany(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof linkInput>, link: boolean) {
  const access = authorize(ctx, 'crm:write', linkInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { contactId, companyId, primary } = input;
  return deps.handle.db.transaction(
    async (tx): Promise<Result<{ contact: ContactRow; companies: LinkedCompany[] }, NotFoundError>> => {
      const [contact] = await tx
        .select()
        .from(contacts)
        .where(and(eq(contacts.id, contactId), eq(contacts.organizationId, organizationId)))
        .for('update');
      if (!contact) return fail(new NotFoundError('Contact', contactId));
      const [company] = await tx
        .select({ id: companies.id })
        .from(companies)
        .where(and(eq(companies.id, companyId), eq(companies.organizationId, organizationId)));
      if (!company) return fail(new NotFoundError('Company', companyId));
      if (link) {
        if (primary)
          await tx
            .update(contactCompanies)
            .set({ isPrimary: false })
            .where(and(eq(contactCompanies.contactId, contactId), eq(contactCompanies.isPrimary, true)));
        await tx
          .insert(contactCompanies)
          .values({ organizationId, contactId, companyId, isPrimary: primary })
          .onConflictDoUpdate({
            target: [contactCompanies.contactId, contactCompanies.companyId],
            set: { isPrimary: primary },
          });
      } else {
        await tx
          .delete(contactCompanies)
          .where(and(eq(contactCompanies.contactId, contactId), eq(contactCompanies.companyId, companyId)));
      }
      await reevaluateMemberships(tx, deps, {
        organizationId,
        contactIds: [contactId],
        changed: ['company'],
        correlationId: ctx.correlationId,
      });
      const linked = await companiesOfInTx(tx, organizationId, contactId);
      await appendEvents(tx, outbox, [linksChanged(organizationId, contactId, linked, ctx.correlationId)]);
      return ok({ contact, companies: linked });
    },
  );
}

/** The companies of these contacts of one organization, each with the contact it is linked to; primary first, then by name. */
export async function companiesOfContacts(
  tx: Executor,
  organizationId: string,
  contactIds: readonly string[],
): Promise<(LinkedCompany & { contactId: string })[]> {
  const rows = await tx
    .select({ company: companies, contactId: contactCompanies.contactId, isPrimary: contactCompanies.isPrimary })
    .from(contactCompanies)
    .innerJoin(companies, eq(companies.id, contactCompanies.companyId))
    .where(
      and(eq(contactCompanies.organizationId, organizationId), inArray(contactCompanies.contactId, [...contactIds])),
    )
    .orderBy(desc(contactCompanies.isPrimary), companies.name);
  return rows.map((r) => ({ ...r.company, contactId: r.contactId, isPrimary: r.isPrimary }));
}

async function companiesOfInTx(tx: Executor, organizationId: string, contactId: string): Promise<LinkedCompany[]> {
  return (await companiesOfContacts(tx, organizationId, [contactId])).map(({ contactId: _, ...company }) => company);
}

export const companiesOf = (deps: CrmDeps, organizationId: string, contactId: string) =>
  companiesOfInTx(deps.handle.db, organizationId, contactId);

export async function getCompany(deps: CrmDeps, ctx: RequestContext, id: string): Promise<Result<CompanyRow | null>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select()
    .from(companies)
    .where(and(eq(companies.id, id), eq(companies.organizationId, access.value.organizationId)));
  return ok(row ?? null);
}

export async function listCompanies(deps: CrmDeps, ctx: RequestContext, window: PageWindow) {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  return ok(await pageOfOrganization(deps.handle.db, companies, organizationId, window));
}
