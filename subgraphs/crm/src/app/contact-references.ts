// The ids a contact write refers to must be the caller's organization's: a stage of its own, and
// an owner who is one of its members. Members are CRM's projection of identity's events
// (identity-events.ts), so a user who joined a moment ago may not be known yet: refused with a
// message that says so, and accepted once the event has been applied.
import type { FieldIssue } from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { and, eq, inArray } from 'drizzle-orm';
import { organizationMembers, stages } from '../db/schema.ts';
import type { ContactValues } from './contact-values.ts';

/** Stages and users known to belong to the organization (all of them, or those some values name). */
export interface References {
  stageIds: Set<string>;
  ownerIds: Set<string>;
}

const UNKNOWN_OWNER =
  'is not a user of this organization (a user who has just joined may take a few seconds to be known here)';

/** Of the stages and owners these values name, the ones that are the organization's. */
export function knownReferences(tx: Executor, organizationId: string, values: readonly ContactValues[]) {
  const named = (key: 'stageId' | 'ownerId') => [...new Set(values.flatMap((v) => (v[key] ? [v[key]] : [])))];
  return referencesOf(tx, organizationId, { stageIds: named('stageId'), ownerIds: named('ownerId') });
}

/** Every stage and member of the organization: what an import checks each row against. */
export const organizationReferences = (tx: Executor, organizationId: string) => referencesOf(tx, organizationId);

/** The organization's stages and members, or only those among `only`'s ids. */
async function referencesOf(
  tx: Executor,
  organizationId: string,
  only?: { stageIds: string[]; ownerIds: string[] },
): Promise<References> {
  const stageRows =
    only?.stageIds.length === 0
      ? []
      : await tx
          .select({ id: stages.id })
          .from(stages)
          .where(and(eq(stages.organizationId, organizationId), only && inArray(stages.id, only.stageIds)));
  const ownerRows =
    only?.ownerIds.length === 0
      ? []
      : await tx
          .select({ id: organizationMembers.userId })
          .from(organizationMembers)
          .where(
            and(
              eq(organizationMembers.organizationId, organizationId),
              only && inArray(organizationMembers.userId, only.ownerIds),
            ),
          );
  return { stageIds: new Set(stageRows.map((r) => r.id)), ownerIds: new Set(ownerRows.map((r) => r.id)) };
}

/** What is wrong with the references of one contact's values, at `root`. */
export function referenceIssues(values: ContactValues, known: References, root: string[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (values.stageId && !known.stageIds.has(values.stageId))
    issues.push({ path: [...root, 'stageId'], message: 'is not a stage of this organization' });
  if (values.ownerId && !known.ownerIds.has(values.ownerId))
    issues.push({ path: [...root, 'ownerId'], message: UNKNOWN_OWNER });
  return issues;
}
