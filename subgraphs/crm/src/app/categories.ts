// Categories (Mautic's): labels an organization files its segments under, to filter segment lists.
import {
  authorize,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { and, asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { categories, segments } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';
import type { SegmentRow } from './segment-membership.ts';

export type CategoryRow = typeof categories.$inferSelect;

export const categoryInput = z.object({
  name: z.string().trim().min(1).max(100),
  /** A CSS hex colour, for lists. */
  color: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a hex colour such as #1f77b4')
    .nullable()
    .default(null),
});

export async function createCategory(
  deps: CrmDeps,
  ctx: RequestContext,
  raw: z.input<typeof categoryInput>,
): Promise<Result<CategoryRow>> {
  const access = authorize(ctx, 'crm:write', categoryInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [row] = await deps.handle.db
    .insert(categories)
    .values({ id: newId(), organizationId, ...input })
    .onConflictDoNothing()
    .returning();
  if (!row)
    return fail(new ValidationError([{ path: ['input', 'name'], message: 'a category with this name exists' }]));
  return ok(row);
}

export async function listCategories(deps: CrmDeps, ctx: RequestContext): Promise<Result<CategoryRow[]>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  return ok(
    await deps.handle.db
      .select()
      .from(categories)
      .where(eq(categories.organizationId, access.value.organizationId))
      .orderBy(asc(categories.name)),
  );
}

/** Deletes a category; its segments stay, uncategorised. */
export async function deleteCategory(deps: CrmDeps, ctx: RequestContext, id: string): Promise<Result<CategoryRow>> {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .delete(categories)
    .where(and(eq(categories.id, id), eq(categories.organizationId, access.value.organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('Category', id));
}

export const segmentCategoryInput = z.object({ segmentId: z.uuid(), categoryId: z.uuid().nullable() });

/** Files a segment under one of the organization's categories (null: none). */
export async function setSegmentCategory(
  deps: CrmDeps,
  ctx: RequestContext,
  raw: z.input<typeof segmentCategoryInput>,
): Promise<Result<SegmentRow>> {
  const access = authorize(ctx, 'crm:write', segmentCategoryInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  if (input.categoryId) {
    const [category] = await deps.handle.db
      .select({ id: categories.id })
      .from(categories)
      .where(and(eq(categories.id, input.categoryId), eq(categories.organizationId, organizationId)));
    if (!category) return fail(new NotFoundError('Category', input.categoryId));
  }
  const [row] = await deps.handle.db
    .update(segments)
    .set({ categoryId: input.categoryId, updatedAt: sql`now()` })
    .where(and(eq(segments.id, input.segmentId), eq(segments.organizationId, organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('Segment', input.segmentId));
}
