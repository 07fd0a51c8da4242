// A definition checked against every rule, the organization's data included: what a draft
// reports and what publishing requires. Only what the definition names is read, one query per
// kind, from this context's copies of CRM's and delivery's data.
import type { Executor } from '@mauntic/platform';
import { and, eq, inArray } from 'drizzle-orm';
import { customFields, journeys, segments, templates } from '../db/schema.ts';
import type { JourneyDefinition } from '../domain/definition.ts';
import {
  contextIssues,
  referencesOf,
  type Validation,
  type ValidationContext,
  validateDefinition,
} from '../domain/validation.ts';

export async function checkDefinition(
  db: Executor,
  organizationId: string,
  journeyId: string,
  raw: unknown,
  now: Date,
): Promise<Validation> {
  const checked = validateDefinition(raw, undefined, now);
  if (!checked.definition) return checked;
  const context = await validationContext(db, organizationId, journeyId, checked.definition);
  return { ...checked, issues: [...checked.issues, ...contextIssues(checked.definition, context)] };
}

async function validationContext(
  db: Executor,
  organizationId: string,
  journeyId: string,
  definition: JourneyDefinition,
): Promise<ValidationContext> {
  const ids = {
    template: new Set<string>(),
    field: new Set<string>(),
    segment: new Set<string>(),
    journey: new Set<string>(),
  };
  for (const ref of referencesOf(definition)) {
    const kind = ref.kind === 'dateField' ? 'field' : ref.kind === 'staticSegment' ? 'segment' : ref.kind;
    ids[kind].add(ref.id);
  }
  const none = Promise.resolve([]);
  const [templateRows, fieldRows, segmentRows, journeyRows] = await Promise.all([
    ids.template.size
      ? db
          .select({ id: templates.id, channel: templates.channel })
          .from(templates)
          .where(
            and(
              eq(templates.organizationId, organizationId),
              inArray(templates.id, [...ids.template]),
              eq(templates.deleted, false),
            ),
          )
      : none,
    ids.field.size
      ? db
          .select({ key: customFields.key, type: customFields.type })
          .from(customFields)
          .where(
            and(
              eq(customFields.organizationId, organizationId),
              inArray(customFields.key, [...ids.field]),
              eq(customFields.deleted, false),
            ),
          )
      : none,
    ids.segment.size
      ? db
          .select({ id: segments.id, kind: segments.kind })
          .from(segments)
          .where(
            and(
              eq(segments.organizationId, organizationId),
              inArray(segments.id, [...ids.segment]),
              eq(segments.deleted, false),
            ),
          )
      : none,
    ids.journey.size
      ? db
          .select({ id: journeys.id })
          .from(journeys)
          .where(and(eq(journeys.organizationId, organizationId), inArray(journeys.id, [...ids.journey])))
      : none,
  ]);
  return {
    journeyId,
    templates: new Map(templateRows.map((t) => [t.id, t.channel])),
    fields: new Map(fieldRows.map((f) => [f.key, f.type])),
    segments: new Map(segmentRows.map((s) => [s.id, s.kind])),
    journeys: new Set(journeyRows.map((j) => j.id)),
  };
}
