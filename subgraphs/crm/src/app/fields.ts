// Custom field definitions: per organization, for contacts and for companies.
import { authorize, fail, newId, ok, type RequestContext, type Result } from '@mauntic/kernel';
import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { fieldDefinitions } from '../db/schema.ts';
import { FieldKeyTakenError } from '../domain/errors.ts';
import {
  FIELD_ENTITIES,
  FIELD_KEY,
  FIELD_TYPES,
  type FieldDefinition,
  type FieldEntity,
} from '../domain/field-types.ts';
import type { CrmDeps } from './deps.ts';

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
  const [row] = await deps.handle.db
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
  return ok(row);
}

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
): Promise<FieldDefinitionRow[]> {
  const org = eq(fieldDefinitions.organizationId, organizationId);
  return deps.handle.db
    .select()
    .from(fieldDefinitions)
    .where(entity ? and(org, eq(fieldDefinitions.entity, entity)) : org)
    .orderBy(asc(fieldDefinitions.key));
}
