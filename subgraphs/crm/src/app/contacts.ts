// Contacts: create, update, upsert by email, batches, delete, get. Every write commits its
// event and the contact's segment memberships in the same transaction.
import {
  authorize,
  catalogue,
  createEvent,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor, type Transaction } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { recordOwnActivity } from '../db/activities.ts';
import { activities, contacts, outbox } from '../db/schema.ts';
import { ContactEmailTakenError } from '../domain/errors.ts';
import type { FieldDefinition } from '../domain/field-types.ts';
import { dropCompanyLinks } from './companies.ts';
import { knownReferences, referenceIssues } from './contact-references.ts';
import { type ContactInput, type ContactValues, checkContactInput } from './contact-values.ts';
import type { CrmDeps } from './deps.ts';
import { fieldDefinitionRows, toDefinition } from './fields.ts';
import { leaveAllSegments, reevaluateMemberships } from './segment-membership.ts';
import { recordStageChange } from './stages.ts';

export type ContactRow = typeof contacts.$inferSelect;

export const MAX_BATCH = 1000;

const STANDARD_NAMES: Record<string, string> = { ownerId: 'owner', stageId: 'stage' };

/** What changed, in the names segment filters use: `email`, `owner`, `tags`, `fields.plan`... */
export function changedNames(values: ContactValues): string[] {
  const names: string[] = [];
  for (const key of Object.keys(values)) {
    if (key === 'fields') for (const f of Object.keys(values.fields ?? {})) names.push(`fields.${f}`);
    else names.push(STANDARD_NAMES[key] ?? key);
  }
  return names;
}

export const snapshot = (c: ContactRow) => ({
  email: c.email,
  firstName: c.firstName,
  lastName: c.lastName,
  phone: c.phone,
  timezone: c.timezone,
  locale: c.locale,
  ownerId: c.ownerId,
  stageId: c.stageId,
  points: c.points,
  tags: c.tags,
  fields: c.fields,
});

export async function contactFieldMap(deps: CrmDeps, organizationId: string): Promise<Map<string, FieldDefinition>> {
  return (await organizationFields(deps, organizationId)).contact;
}

/** Every field definition (segment filters need company fields too) and the contact ones by key. */
async function organizationFields(deps: CrmDeps, organizationId: string) {
  const all = (await fieldDefinitionRows(deps, organizationId)).map(toDefinition);
  return { all, contact: new Map(all.filter((f) => f.entity === 'contact').map((f) => [f.key, f])) };
}

/** Problems with the stage and owner one contact's values name (see contact-references.ts). */
async function checkReferences(tx: Executor, organizationId: string, values: ContactValues, root: string[]) {
  return referenceIssues(values, await knownReferences(tx, organizationId, [values]), root);
}

const setClause = (values: ContactValues) => {
  const { fields, ...columns } = values;
  const set: Record<string, unknown> = { ...columns, updatedAt: sql`now()` };
  if (fields) {
    const put = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
    const drop = Object.keys(fields).filter((k) => fields[k] === null);
    // jsonb minus a text[] of keys; the keys travel as one JSON parameter.
    set.fields = sql`(${contacts.fields} || ${JSON.stringify(put)}::jsonb) - array(select jsonb_array_elements_text(${JSON.stringify(drop)}::jsonb))`;
  }
  return set;
};

const insertValues = (organizationId: string, values: ContactValues) => ({
  id: newId(),
  organizationId,
  ...values,
  fields: Object.fromEntries(Object.entries(values.fields ?? {}).filter(([, v]) => v !== null)),
  tags: values.tags ?? [],
});

async function recordWrite(
  tx: Transaction,
  deps: CrmDeps,
  ctx: RequestContext,
  row: ContactRow,
  kind: 'created' | 'updated',
  changed: string[],
  fields: FieldDefinition[],
) {
  const base = { organizationId: row.organizationId, subjectId: row.id, correlationId: ctx.correlationId };
  await appendEvents(tx, outbox, [
    kind === 'created'
      ? createEvent(catalogue.crm.contactCreated, { ...base, data: { contact: snapshot(row) } })
      : createEvent(catalogue.crm.contactUpdated, { ...base, data: { contact: snapshot(row), changed } }),
  ]);
  await recordOwnActivity(tx, {
    organizationId: row.organizationId,
    contactId: row.id,
    type: `contact.${kind}`,
    properties: kind === 'updated' ? { changed } : {},
  });
  await reevaluateMemberships(tx, deps, {
    organizationId: row.organizationId,
    contactIds: [row.id],
    changed: kind === 'created' ? '*' : changed,
    correlationId: ctx.correlationId,
    fields,
  });
}

export async function createContact(deps: CrmDeps, ctx: RequestContext, input: ContactInput) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const fields = await organizationFields(deps, organizationId);
  const { values, issues } = checkContactInput(input, fields.contact, ['input'], { creating: true });
  if (issues.length) return fail(new ValidationError(issues));
  return deps.handle.db.transaction(
    async (tx): Promise<Result<ContactRow, ValidationError | ContactEmailTakenError>> => {
      const referenceProblems = await checkReferences(tx, organizationId, values, ['input']);
      if (referenceProblems.length) return fail(new ValidationError(referenceProblems));
      const [row] = await tx
        .insert(contacts)
        .values(insertValues(organizationId, values))
        .onConflictDoNothing()
        .returning();
      if (!row) return fail(new ContactEmailTakenError(values.email ?? ''));
      await recordStageChange(tx, ctx, { organizationId, contactId: row.id, from: null, to: row.stageId });
      await recordWrite(tx, deps, ctx, row, 'created', [], fields.all);
      return ok(row);
    },
  );
}

export async function updateContact(deps: CrmDeps, ctx: RequestContext, id: string, input: ContactInput) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const fields = await organizationFields(deps, organizationId);
  const { values, issues } = checkContactInput(input, fields.contact, ['input'], { creating: false });
  if (issues.length) return fail(new ValidationError(issues));
  return deps.handle.db.transaction(
    async (tx): Promise<Result<ContactRow, ValidationError | ContactEmailTakenError | NotFoundError>> => {
      const referenceProblems = await checkReferences(tx, organizationId, values, ['input']);
      if (referenceProblems.length) return fail(new ValidationError(referenceProblems));
      if (values.email) {
        const [other] = await tx
          .select({ id: contacts.id })
          .from(contacts)
          .where(
            and(
              eq(contacts.organizationId, organizationId),
              sql`lower(${contacts.email}) = ${values.email.toLowerCase()}`,
            ),
          );
        if (other && other.id !== id) return fail(new ContactEmailTakenError(values.email));
      }
      // The stage it leaves, read under the row lock the update takes anyway.
      const [previous] =
        values.stageId === undefined
          ? []
          : await tx
              .select({ stageId: contacts.stageId })
              .from(contacts)
              .where(and(eq(contacts.id, id), eq(contacts.organizationId, organizationId)))
              .for('update');
      const [row] = await tx
        .update(contacts)
        .set(setClause(values))
        .where(and(eq(contacts.id, id), eq(contacts.organizationId, organizationId)))
        .returning();
      if (!row) return fail(new NotFoundError('Contact', id));
      if (previous)
        await recordStageChange(tx, ctx, { organizationId, contactId: id, from: previous.stageId, to: row.stageId });
      await recordWrite(tx, deps, ctx, row, 'updated', changedNames(values), fields.all);
      return ok(row);
    },
  );
}

/**
 * Creates or updates the contact with this email (case-insensitive). Fields not given are left
 * as they are on an existing contact.
 */
export async function upsertContactInTx(
  tx: Transaction,
  deps: CrmDeps,
  ctx: RequestContext,
  organizationId: string,
  values: ContactValues & { email: string },
  fields: FieldDefinition[],
): Promise<{ row: ContactRow; created: boolean }> {
  // The stage it leaves too, read under the lock the update needs anyway.
  const [existing] = await tx
    .select({ id: contacts.id, stageId: contacts.stageId })
    .from(contacts)
    .where(
      and(eq(contacts.organizationId, organizationId), sql`lower(${contacts.email}) = ${values.email.toLowerCase()}`),
    )
    .for('update');
  if (existing) {
    // The email only matched (case-insensitively); the stored spelling stays.
    const { email: _matched, ...rest } = values;
    const [row] = await tx.update(contacts).set(setClause(rest)).where(eq(contacts.id, existing.id)).returning();
    await recordStageChange(tx, ctx, { organizationId, contactId: row!.id, from: existing.stageId, to: row!.stageId });
    await recordWrite(tx, deps, ctx, row!, 'updated', changedNames(rest), fields);
    return { row: row!, created: false };
  }
  const [row] = await tx.insert(contacts).values(insertValues(organizationId, values)).returning();
  await recordStageChange(tx, ctx, { organizationId, contactId: row!.id, from: null, to: row!.stageId });
  await recordWrite(tx, deps, ctx, row!, 'created', [], fields);
  return { row: row!, created: true };
}

export async function upsertContact(deps: CrmDeps, ctx: RequestContext, input: ContactInput & { email: string }) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const fields = await organizationFields(deps, organizationId);
  const { values, issues } = checkContactInput(input, fields.contact, ['input'], { creating: false });
  if (!values.email && !issues.some((i) => i.path.at(-1) === 'email'))
    issues.push({ path: ['input', 'email'], message: 'is required to upsert' });
  if (issues.length) return fail(new ValidationError(issues));
  return deps.handle.db.transaction(async (tx) => {
    const referenceProblems = await checkReferences(tx, organizationId, values, ['input']);
    if (referenceProblems.length) return fail(new ValidationError(referenceProblems));
    return ok(
      await upsertContactInTx(tx, deps, ctx, organizationId, values as ContactValues & { email: string }, fields.all),
    );
  });
}

export type BatchItemResult =
  | { index: number; contact: ContactRow; created: boolean }
  | { index: number; error: ValidationError };

/**
 * Upserts many contacts by email in one transaction. Items that fail validation are reported
 * with their index and skipped; the rest are written.
 */
export async function batchUpsertContacts(
  deps: CrmDeps,
  ctx: RequestContext,
  items: (ContactInput & { email?: string | null })[],
) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  if (items.length > MAX_BATCH)
    return fail(
      new ValidationError([{ path: ['input', 'contacts'], message: `at most ${MAX_BATCH} contacts per call` }]),
    );
  const fields = await organizationFields(deps, organizationId);
  const checked = items.map((item, index) => {
    const root = ['input', 'contacts', String(index)];
    const { values, issues } = checkContactInput(item, fields.contact, root, { creating: false });
    if (!values.email && !issues.some((i) => i.path.at(-1) === 'email'))
      issues.push({ path: [...root, 'email'], message: 'is required' });
    return { index, root, values, issues };
  });
  const results: BatchItemResult[] = [];
  await deps.handle.db.transaction(async (tx) => {
    // The stages and owners of the whole batch, checked with one read each.
    const known = await knownReferences(
      tx,
      organizationId,
      checked.map((c) => c.values),
    );
    for (const { index, root, values, issues } of checked) {
      issues.push(...referenceIssues(values, known, root));
      if (issues.length) {
        results.push({ index, error: new ValidationError(issues) });
        continue;
      }
      const { row, created } = await upsertContactInTx(
        tx,
        deps,
        ctx,
        organizationId,
        values as ContactValues & { email: string },
        fields.all,
      );
      results.push({ index, contact: row, created });
    }
  });
  return ok(results);
}

export async function deleteContact(deps: CrmDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<{ id: string }, NotFoundError>> => {
    await leaveAllSegments(tx, organizationId, [id], ctx.correlationId);
    // A deleted contact leaves nothing behind (erasure, in gdpr.ts, keeps anonymous activity).
    await tx.delete(activities).where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, id)));
    const links = await dropCompanyLinks(tx, organizationId, id, ctx.correlationId);
    const [row] = await tx
      .delete(contacts)
      .where(and(eq(contacts.id, id), eq(contacts.organizationId, organizationId)))
      .returning({ id: contacts.id });
    if (!row) return fail(new NotFoundError('Contact', id));
    await appendEvents(tx, outbox, [
      ...links,
      createEvent(catalogue.crm.contactDeleted, {
        organizationId,
        subjectId: id,
        correlationId: ctx.correlationId,
        data: { erased: false },
      }),
    ]);
    return ok(row);
  });
}
