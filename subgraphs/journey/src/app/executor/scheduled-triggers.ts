// Entry triggers that fire on the clock rather than on an event, evaluated by the executor once a
// minute: a date field (a birthday, a renewal minus 7 days; yearly or once) reached in each
// contact's time zone at the trigger's time of day, and a schedule (an RRULE over a segment, from
// its dtstart or the version's publication, on its zone's clock: rrule.ts).
// Each occurrence is an entry key (`dateField:<i>:<local date>`, `schedule:<i>:<instant>`), so
// a contact enters once per occurrence however often, or on however many executors, this runs;
// the journey's entry rule applies on top.
import type { DatabaseHandle, Logger } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { contacts, journeys, journeyVersions, segmentMemberships } from '../../db/schema.ts';
import { type EntryTrigger, type JourneyDefinition, journeyDefinition } from '../../domain/definition.ts';
import { type EntryTarget, enterContacts } from './enter.ts';
import { Schedules } from './rrule.ts';
import { addDays, knownZone, localTime, parseTimeOfDay } from './zoned-time.ts';

export interface ScheduledTriggerDeps {
  handle: DatabaseHandle;
  logger: Logger;
  now: () => Date;
}

/** How far back a schedule's missed occurrence still fires (an executor that was down). */
const SCHEDULE_CATCH_UP_MS = 60 * 60_000;

/** The schedules' series, kept from one minute's pass to the next. */
const schedules = new Schedules();

/** Evaluates every active journey's clock triggers once; returns how many runs entered. */
export async function runScheduledTriggers(deps: ScheduledTriggerDeps): Promise<number> {
  const rows = await deps.handle.db
    .select({
      organizationId: journeys.organizationId,
      journeyId: journeys.id,
      versionId: journeyVersions.id,
      version: journeyVersions.version,
      definition: journeyVersions.definition,
      publishedAt: journeyVersions.publishedAt,
    })
    .from(journeys)
    .innerJoin(journeyVersions, eq(journeyVersions.id, journeys.currentVersionId))
    .where(and(eq(journeys.status, 'active'), sql`${journeys.entryKeys} && array['dateField', 'schedule']::text[]`));
  let entered = 0;
  const now = deps.now();
  for (const row of rows) {
    const definition = journeyDefinition.parse(row.definition);
    const target: EntryTarget = {
      organizationId: row.organizationId,
      journeyId: row.journeyId,
      versionId: row.versionId,
      version: row.version,
      start: definition.start,
      entryRule: definition.settings.entryRule,
    };
    for (const [index, trigger] of definition.entry.entries()) {
      if (trigger.type === 'dateField')
        entered += await dateFieldEntries(deps, target, definition, trigger, index, now);
      if (trigger.type === 'schedule')
        entered += await scheduleEntries(deps, target, definition, trigger, index, row.publishedAt, now);
    }
  }
  schedules.sweep();
  return entered;
}

type DateTrigger = Extract<EntryTrigger, { type: 'dateField' }>;

/**
 * Contacts whose date (plus the offset) is today on their own clock, once their clock has passed
 * the trigger's time. The database narrows them to dates within a day of it (time zones differ
 * by less); the exact check is done here with each contact's zone.
 */
async function dateFieldEntries(
  deps: ScheduledTriggerDeps,
  target: EntryTarget,
  definition: JourneyDefinition,
  trigger: DateTrigger,
  index: number,
  now: Date,
): Promise<number> {
  const utcToday = localTime(now, 'UTC');
  const candidates = [-1, 0, 1].map((d) => addDays(utcToday, d - trigger.offsetDays));
  const value =
    trigger.field === 'createdAt'
      ? sql`to_char(${contacts.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`
      : sql`left(${contacts.fields} ->> ${trigger.field.slice('fields.'.length)}, 10)`;
  const wanted =
    trigger.repeat === 'yearly'
      ? sql`substr(${value}, 6, 5) = any(${`{${candidates.map((c) => `${pad(c.month)}-${pad(c.day)}`).join(',')}}`}::text[])`
      : sql`${value} = any(${`{${candidates.map(ymd).join(',')}}`}::text[])`;
  const rows = await deps.handle.rows<{ id: string; timezone: string | null; value: string }>(sql`
    select ${contacts.id} as id, ${contacts.timezone} as timezone, ${value} as value from ${contacts}
    where ${contacts.organizationId} = ${target.organizationId} and not ${contacts.deleted} and ${wanted}`);
  const at = parseTimeOfDay(trigger.at);
  const byDay = new Map<string, string[]>();
  for (const contact of rows) {
    const local = localTime(now, knownZone(contact.timezone, definition.settings.timezone));
    if (local.hour * 60 + local.minute < at.hour * 60 + at.minute) continue;
    const date = addDays(local, -trigger.offsetDays);
    const due =
      trigger.repeat === 'yearly' ? contact.value.slice(5) === ymd(date).slice(5) : contact.value === ymd(date);
    if (!due) continue;
    const today = ymd(local);
    byDay.set(today, [...(byDay.get(today) ?? []), contact.id]);
  }
  let entered = 0;
  for (const [day, ids] of byDay)
    entered += (
      await enterContacts(deps.handle.db, {
        target,
        contacts: sql`select unnest(${`{${ids.join(',')}}`}::uuid[]) as contact_id`,
        trigger: 'dateField',
        data: { date: { field: trigger.field, day } },
        now,
        correlationId: `journey-date:${target.journeyId}:${day}`,
        occurrence: `dateField:${index}:${day}`,
      })
    ).length;
  return entered;
}

type ScheduleTrigger = Extract<EntryTrigger, { type: 'schedule' }>;

/** The segment's members at the latest occurrence of the rule in the last hour, once. */
async function scheduleEntries(
  deps: ScheduledTriggerDeps,
  target: EntryTarget,
  definition: JourneyDefinition,
  trigger: ScheduleTrigger,
  index: number,
  publishedAt: Date,
  now: Date,
): Promise<number> {
  const schedule = schedules.get(target.versionId, index, trigger, definition.settings, publishedAt);
  const occurrence = schedule.latest(new Date(now.getTime() - SCHEDULE_CATCH_UP_MS), now);
  if (!occurrence) return 0;
  const entered = await enterContacts(deps.handle.db, {
    target,
    contacts: sql`select ${segmentMemberships.contactId} as contact_id from ${segmentMemberships}
      where ${segmentMemberships.organizationId} = ${target.organizationId} and ${segmentMemberships.segmentId} = ${trigger.segmentId}`,
    trigger: 'schedule',
    data: { schedule: { occurrence: occurrence.toISOString() } },
    now,
    correlationId: `journey-schedule:${target.journeyId}:${occurrence.toISOString()}`,
    occurrence: `schedule:${index}:${occurrence.toISOString()}`,
  });
  return entered.length;
}

const pad = (n: number) => String(n).padStart(2, '0');
const ymd = (d: { year: number; month: number; day: number }) =>
  `${String(d.year).padStart(4, '0')}-${pad(d.month)}-${pad(d.day)}`;
