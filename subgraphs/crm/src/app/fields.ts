// Custom field definitions: per organization, for contacts and for companies. Creating and deleting
// one publishes it (crm.field.created|deleted), for the contexts that name fields (journeys).
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
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { companies, contacts, fieldDefinitions, outbox } from '../db/schema.ts';
import { FieldKeyTakenError } from '../domain/errors.ts';
import {
  FIELD_ENTITIES,
  FIELD_KEY,
  FIELD_TYPES,
  type FieldDefinition,
  type FieldEntity,
} from '../domain/field-types.ts';
import type { CrmDeps } from './deps.ts';
import { loadDynamicSegments } from './segment-membership.ts';

export type FieldDefinitionRow = typeof fieldDefinitions.$inferSelect;

/** Standard contact properties: a custom field may not shadow them. */
export const STANDARD_CONTACT_FIELDS = [
  'email',
  'firstName',
  'lastName',
  'phone',
  'timezone',
  'locale',
  'owner',
  'stage',
  'points',
  'tags',
  'createdAt',
  'updatedAt',
  'lastActiveAt',
];

export const createFieldInput = z
  .object({
    entity: z.enum(FIELD_ENTITIES),
    key: z.string().regex(FIELD_KEY, 'lower-case letters, digits and _, starting with a letter (max 63)'),
    label: z.string().trim().min(1).max(100),
    type: z.enum(FIELD_TYPES),
    required: z.boolean().default(false),
    scale: z.number().int().min(0).max(10).optional(),
    choices: z.array(z.string().trim().min(1).max(255)).max(1000).optional(),
  })
  .superRefine((f, issue) => {
    const needsChoices = f.type === 'select' || f.type === 'multiselect';
    if (needsChoices && !f.choices?.length)
      issue.addIssue({ code: 'custom', path: ['choices'], message: `a ${f.type} field needs choices` });
    if (f.scale !== undefined && f.type !== 'number')
      issue.addIssue({ code: 'custom', path: ['scale'], message: 'only number fields have a scale' });
  });

export const toDefinition = (row: FieldDefinitionRow): FieldDefinition => ({
  key: row.key,
  label: row.label,
  entity: row.entity,
  type: row.type as FieldDefinition['type'],
  options: row.options,
  required: row.required,
});

export async function createField(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof createFieldInput>) {
  const access = authorize(ctx, 'crm:admin', createFieldInput, raw);
  if (!access.ok) return access;
  const { organizationId, input: f } = access.value;
  if (f.entity === 'contact' && STANDARD_CONTACT_FIELDS.map((s) => s.toLowerCase()).includes(f.key.replaceAll('_', '')))
    return fail(new FieldKeyTakenError(`${f.key} is a standard contact field`));
  return deps.handle.db.transaction(async (tx): Promise<Result<FieldDefinitionRow, FieldKeyTakenError>> => {
    const [row] = await tx
      .insert(fieldDefinitions)
      .values({
        id: newId(),
        organizationId,
        entity: f.entity,
        key: f.key,
        label: f.label,
        type: f.type,
        required: f.required,
        options: { ...(f.scale !== undefined ? { scale: f.scale } : {}), ...(f.choices ? { choices: f.choices } : {}) },
      })
      .onConflictDoNothing()
      .returning();
    if (!row) return fail(new FieldKeyTakenError(`a ${f.entity} field ${f.key} already exists`));
    await appendEvents(tx, outbox, [fieldEvent(catalogue.crm.fieldCreated, row, ctx.correlationId)]);
    return ok(row);
  });
}

/**
 * Deletes a custom field and every value stored under its key. Refused while a dynamic segment's
 * filter reads it (its filter would no longer be valid): change those segments first.
 */
export async function deleteField(deps: CrmDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'crm:admin');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  return deps.handle.db.transaction(
    async (tx): Promise<Result<FieldDefinitionRow, NotFoundError | ValidationError>> => {
      const [row] = await tx
        .select()
        .from(fieldDefinitions)
        .where(and(eq(fieldDefinitions.organizationId, organizationId), eq(fieldDefinitions.id, id)))
        .for('update');
      if (!row) return fail(new NotFoundError('FieldDefinition', id));
      const remaining = (await fieldDefinitionRows(deps, organizationId, undefined, tx))
        .filter((f) => f.id !== row.id)
        .map(toDefinition);
      // Loaded against the fields that would remain, a segment reading this one no longer parses.
      const all = await loadDynamicSegments(tx, organizationId);
      const still = new Set((await loadDynamicSegments(tx, organizationId, remaining)).map((s) => s.row.id));
      const readers = all.filter((s) => !still.has(s.row.id));
      if (readers.length)
        return fail(
          new ValidationError([
            { path: ['input', 'id'], message: `read by segments: ${readers.map((s) => s.row.name).join(', ')}` },
          ]),
        );
      await tx.delete(fieldDefinitions).where(eq(fieldDefinitions.id, row.id));
      const owners = row.entity === 'contact' ? contacts : companies;
      await tx
        .update(owners)
        .set({ fields: sql`${owners.fields} - ${row.key}::text` })
        .where(and(eq(owners.organizationId, organizationId), sql`${owners.fields} -> ${row.key}::text is not null`));
      await appendEvents(tx, outbox, [fieldEvent(catalogue.crm.fieldDeleted, row, ctx.correlationId)]);
      return ok(row);
    },
  );
}

const fieldEvent = (
  def: (typeof catalogue.crm)['fieldCreated' | 'fieldDeleted'],
  row: FieldDefinitionRow,
  correlationId: string,
) =>
  createEvent(def, {
    organizationId: row.organizationId,
    subjectId: row.id,
    correlationId,
    data: { entity: row.entity, key: row.key, type: row.type, options: row.options },
  });

/** The caller's organization's custom fields, of one entity or both, by key. */
export async function listFields(
  deps: CrmDeps,
  ctx: RequestContext,
  entity?: FieldEntity,
): Promise<Result<FieldDefinitionRow[]>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  return ok(await fieldDefinitionRows(deps, access.value.organizationId, entity));
}

export async function fieldDefinitionRows(
  deps: CrmDeps,
  organizationId: string,
  entity?: FieldEntity,
  executor: Executor = deps.handle.db,
): Promise<FieldDefinitionRow[]> {
  const org = eq(fieldDefinitions.organizationId, organizationId);
  return executor
    .select()
    .from(fieldDefinitions)
    .where(entity ? and(org, eq(fieldDefinitions.entity, entity)) : org)
    .orderBy(asc(fieldDefinitions.key));
}
