// A journey definition: the graph of steps contacts walk, its entry triggers and its settings, as
// the zod schemas a saved definition is parsed with and the types they give. Pure. validation.ts
// holds the rules that need the whole graph (references, reachability, cycles, weights) or the
// organization's data (templates, fields, segments).
//
//   { "entry": [{ "type": "segmentEntered", "segmentId": "<uuid>" }],
//     "start": "welcome",
//     "steps": {
//       "welcome": { "type": "send", "channel": "email", "templateId": "<uuid>", "next": "wait" },
//       "wait":    { "type": "waitFor", "event": { "kind": "opened", "step": "welcome" }, "timeout": "1 day",
//                    "onEvent": "done", "onTimeout": "nudge" },
//       "nudge":   { "type": "send", "channel": "sms", "templateId": "<uuid>", "next": "done" },
//       "done":    { "type": "exit" } },
//     "settings": { "entryRule": { "kind": "once" } } }
//
// Durations are "<n> <unit>" with unit second, minute, hour, day or week ("30 minutes", "1 day").
// Conditions and `where` clauses are CRM segment filter trees (see CRM's segment-filter.ts).
import { z } from 'zod';
import { parseLocalDateTime } from './schedule.ts';

export const STEP_ID = /^[a-z][a-z0-9_-]{0,63}$/;
export const MAX_STEPS = 500;

export const stepId = z.string().regex(STEP_ID, 'must be lower-case letters, digits, _ or -, starting with a letter');
export type StepId = string;

const DURATION = /^(\d{1,7})\s*(second|minute|hour|day|week)s?$/;
const UNIT_MS = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 } as const;
/** Ten years: longer waits are a mistake, not a plan. */
const MAX_DURATION_MS = 3_650 * UNIT_MS.day;

/** Milliseconds of a duration ("30 minutes"), or null when it is not one. */
export function durationMs(duration: string): number | null {
  const match = DURATION.exec(duration.trim());
  if (!match) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms > 0 && ms <= MAX_DURATION_MS ? ms : null;
}

export const duration = z
  .string()
  .max(40)
  .refine((d) => durationMs(d) !== null, 'must be a duration such as "30 minutes" or "2 days", at most 10 years');
export type Duration = string;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
const weekdays = z.array(z.enum(WEEKDAYS)).min(1).max(7);

/** A time of day, 24-hour: "09:30". */
export const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');

const timeZones = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
export const timeZone = z
  .string()
  .refine((zone) => timeZones.has(zone), 'must be an IANA time zone, e.g. Europe/Paris');

export const CHANNELS = ['email', 'sms', 'push', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];
export const DNC_CHANNELS = ['email', 'sms', 'push'] as const;
export type DncChannel = (typeof DNC_CHANNELS)[number];

/** A CRM segment filter tree (its grammar is CRM's; validation checks the fields and segments it names). */
export const filter = z.record(z.string(), z.unknown()).refine((f) => Object.keys(f).length > 0, 'must not be empty');
export type Filter = Record<string, unknown>;

const text = z.string().trim().min(1).max(200);
const jsonObject = z
  .record(z.string(), z.unknown())
  .refine((o) => JSON.stringify(o).length <= 32_768, 'must be at most 32 KB of JSON');

/**
 * A contact field by the name a definition uses for it: a custom field as `fields.<key>`, or one
 * of the standard fields below.
 */
export const CUSTOM_FIELD = /^fields\.([a-zA-Z][a-zA-Z0-9_]{0,63})$/;
export const contactField = z.string().max(80);

/** Standard contact fields a date trigger or delay can read. */
export const DATE_FIELDS = ['createdAt'] as const;
/** Standard contact fields an update step can set. */
export const SETTABLE_FIELDS = ['email', 'firstName', 'lastName', 'phone', 'timezone', 'locale'] as const;

// --- entry triggers ------------------------------------------------------------------------------

/** A catalogued event about a contact (`crm.contact.tagged`), or a custom one by name (`custom`). */
const eventMatch = {
  event: z.string().min(1).max(120),
  /** The custom event's name, when `event` is `custom`. */
  name: text.optional(),
  /** A filter over the event's properties, in CRM's filter grammar. */
  where: filter.optional(),
};

export const entryTrigger = z.discriminatedUnion('type', [
  z.object({ type: z.literal('segmentEntered'), segmentId: z.uuid() }),
  z.object({ type: z.literal('segmentExited'), segmentId: z.uuid() }),
  z.object({ type: z.literal('event'), ...eventMatch }),
  z.object({
    type: z.literal('dateField'),
    /** `fields.<key>` (a date custom field) or `createdAt`. */
    field: contactField,
    /** Days after (or, negative, before) the date: renewal minus 7 days is -7. */
    offsetDays: z.number().int().min(-3650).max(3650),
    repeat: z.enum(['yearly', 'once']),
    /** Time of day the contact enters, in the contact's time zone. */
    at: timeOfDay,
  }),
  z.object({
    type: z.literal('schedule'),
    /**
     * An RFC 5545 recurrence rule ("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"), read on the
     * schedule's wall clock. Parts it leaves out come from the start, as RFC 5545 says.
     */
    rrule: z.string().min(1).max(1000),
    /**
     * DTSTART: when the series starts, as a local date and time on the schedule's clock
     * ("2026-03-02T09:00"). Without it, the series starts at the minute the version is published:
     * INTERVAL and COUNT count from there.
     */
    dtstart: z
      .string()
      .refine((v) => parseLocalDateTime(v) !== null, 'must be a local date and time, YYYY-MM-DDTHH:MM')
      .optional(),
    /** The zone whose clock the rule is read on; without it, the journey's (settings.timezone, else UTC). */
    timezone: timeZone.optional(),
    /** Who enters at each occurrence. */
    segmentId: z.uuid(),
  }),
  /** Contacts enter through enrollContact / enrollSegment. */
  z.object({ type: z.literal('api') }),
]);
export type EntryTrigger = z.infer<typeof entryTrigger>;
export type EventMatch = Extract<EntryTrigger, { type: 'event' }>;

// --- steps ---------------------------------------------------------------------------------------

const next = stepId;

const branch = z.object({
  /** Per cent of contacts; the branches of a step sum to 100. */
  weight: z.number().int().min(0).max(100),
  /** null: a holdout, whose contacts receive nothing more and are counted. */
  next: stepId.nullable(),
  name: text.optional(),
});
export type Branch = z.infer<typeof branch>;

const waitEvent = z.discriminatedUnion('kind', [
  /** The contact opened or clicked the email a send step of this run sent. */
  z.object({ kind: z.literal('opened'), step: stepId }),
  z.object({ kind: z.literal('clicked'), step: stepId }),
  z.object({ kind: z.literal('form'), id: z.uuid().optional(), where: filter.optional() }),
  z.object({ kind: z.literal('page'), id: z.uuid().optional(), where: filter.optional() }),
  z.object({ kind: z.literal('custom'), name: text, where: filter.optional() }),
]);
export type WaitEvent = z.infer<typeof waitEvent>;

export const delayWait = z.union([
  z.object({ duration }).strict(),
  /** The next time the contact's clock shows `until` (on one of `days`, when given). */
  z.object({ until: timeOfDay, days: weekdays.optional() }).strict(),
  /** A date field of the contact plus (or minus) days. */
  z.object({ field: contactField, offsetDays: z.number().int().min(-3650).max(3650) }).strict(),
]);
export type DelayWait = z.infer<typeof delayWait>;

export const step = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('send'),
    channel: z.enum(CHANNELS),
    templateId: z.uuid(),
    /** Extra values for the template, beside the contact and the run's data. */
    context: jsonObject.optional(),
    next,
  }),
  z.object({ type: z.literal('delay'), wait: delayWait, next }),
  z.object({ type: z.literal('waitFor'), event: waitEvent, timeout: duration, onEvent: next, onTimeout: next }),
  z.object({ type: z.literal('condition'), filter, yes: next, no: next }),
  z.object({ type: z.literal('split'), branches: z.array(branch).min(2).max(20) }),
  /** A split whose branches are named variants, reported apart. */
  z.object({
    type: z.literal('experiment'),
    branches: z
      .array(branch.extend({ name: text }))
      .min(2)
      .max(20),
  }),
  z.object({
    type: z.literal('updateContact'),
    /** Standard fields by name, custom ones as `fields.<key>`; null clears. */
    set: z.record(contactField, z.unknown()).optional(),
    addTags: z.array(text).max(100).optional(),
    removeTags: z.array(text).max(100).optional(),
    /** Added to the contact's points (negative subtracts). */
    points: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    stageId: z.uuid().nullable().optional(),
    ownerId: z.uuid().nullable().optional(),
    dnc: z.object({ channel: z.enum(DNC_CHANNELS), value: z.boolean() }).optional(),
    next,
  }),
  z.object({ type: z.literal('segment'), action: z.enum(['add', 'remove']), segmentId: z.uuid(), next }),
  z.object({ type: z.literal('emitEvent'), name: text, properties: jsonObject.optional(), next }),
  /** Starts a run of another journey for the contact; this run goes on to `next`, or ends. */
  z.object({ type: z.literal('enterJourney'), journeyId: z.uuid(), next: next.optional() }),
  z.object({ type: z.literal('jump'), to: next }),
  z.object({
    type: z.literal('notify'),
    via: z.enum(['webhook', 'email']),
    /** A URL for a webhook; a member's email address for email. */
    target: z.string().trim().min(1).max(2048),
    templateId: z.uuid().optional(),
    next,
  }),
  /**
   * A conversion: a run that reaches it ends converted. With `event`, and listed in the settings'
   * exit goals, that event converts the run wherever it is.
   */
  z.object({ type: z.literal('goal'), name: text, event: z.object(eventMatch).optional() }),
  z.object({ type: z.literal('exit') }),
]);
export type Step = z.infer<typeof step>;
export type StepType = Step['type'];
export type StepOf<T extends StepType> = Extract<Step, { type: T }>;

// --- settings ------------------------------------------------------------------------------------

export const entryRule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('once') }),
  z.object({ kind: z.literal('oncePer'), period: duration }),
  z.object({ kind: z.literal('everyTime') }),
  /** At most one active run per contact: another entry while one runs is ignored. */
  z.object({ kind: z.literal('oneActive') }),
]);
export type EntryRule = z.infer<typeof entryRule>;

export const settings = z.object({
  entryRule: entryRule.default({ kind: 'once' }),
  exit: z
    .object({
      leavesSegment: z.uuid().optional(),
      becomesDnc: z.array(z.enum(DNC_CHANNELS)).min(1).max(3).optional(),
      /** Goal steps whose event ends a run as converted wherever it is. */
      goals: z.array(stepId).max(20).optional(),
    })
    .optional(),
  /** When sends may go out, in the contact's time zone; sends outside wait, other steps proceed. */
  sendingWindow: z.object({ days: weekdays, from: timeOfDay, to: timeOfDay }).optional(),
  /** Sends per contact in this journey. */
  frequencyCap: z.object({ max: z.number().int().min(1).max(1000), per: duration }).optional(),
  /** Used for contacts without a time zone of their own (the organization's default otherwise). */
  timezone: timeZone.optional(),
});
export type JourneySettings = z.infer<typeof settings>;

export const journeyDefinition = z.object({
  entry: z.array(entryTrigger).min(1).max(20),
  steps: z
    .record(stepId, step)
    .refine((s) => Object.keys(s).length > 0, 'needs at least one step')
    .refine((s) => Object.keys(s).length <= MAX_STEPS, `at most ${MAX_STEPS} steps`),
  start: stepId,
  settings: settings.default({ entryRule: { kind: 'once' } }),
});
export type JourneyDefinition = z.infer<typeof journeyDefinition>;

/** What a new journey's draft holds until it is edited: an API-entered journey that ends at once. */
export const EMPTY_DEFINITION: JourneyDefinition = {
  entry: [{ type: 'api' }],
  start: 'exit',
  steps: { exit: { type: 'exit' } },
  settings: { entryRule: { kind: 'once' } },
};

/** The steps a step leads to, with where each edge sits in the step (for issues). */
export function edgesOf(s: Step): { to: StepId; path: (string | number)[] }[] {
  switch (s.type) {
    case 'send':
    case 'delay':
    case 'updateContact':
    case 'segment':
    case 'emitEvent':
    case 'notify':
      return [{ to: s.next, path: ['next'] }];
    case 'enterJourney':
      return s.next ? [{ to: s.next, path: ['next'] }] : [];
    case 'waitFor':
      return [
        { to: s.onEvent, path: ['onEvent'] },
        { to: s.onTimeout, path: ['onTimeout'] },
      ];
    case 'condition':
      return [
        { to: s.yes, path: ['yes'] },
        { to: s.no, path: ['no'] },
      ];
    case 'split':
    case 'experiment':
      return s.branches.flatMap((b, i) => (b.next ? [{ to: b.next, path: ['branches', i, 'next'] }] : []));
    case 'jump':
      return [{ to: s.to, path: ['to'] }];
    case 'goal':
    case 'exit':
      return [];
  }
}

/**
 * What each entry trigger listens to, as one key (`segmentEntered:<id>`, `event:crm.contact.tagged`,
 * `event:custom:<name>`, `dateField`, `schedule`, `api`): stored with the journey so the journeys an
 * event enters are found through one index.
 */
export function entryKeys(definition: JourneyDefinition): string[] {
  const keys = definition.entry.map((t) => {
    switch (t.type) {
      case 'segmentEntered':
      case 'segmentExited':
        return `${t.type}:${t.segmentId}`;
      case 'event':
        return t.event === 'custom' ? `event:custom:${t.name}` : `event:${t.event}`;
      default:
        return t.type;
    }
  });
  return [...new Set(keys)].sort();
}

/**
 * The step ids in the order a reader follows them: breadth first from the start, then any others
 * by id. (Stored as jsonb, a definition does not keep the order its steps were written in.)
 */
export function stepsInOrder(definition: JourneyDefinition): StepId[] {
  const { steps } = definition;
  const ordered: StepId[] = [];
  const seen = new Set<StepId>();
  const queue = definition.start in steps ? [definition.start] : [];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    if (seen.has(id)) continue;
    seen.add(id);
    ordered.push(id);
    for (const edge of edgesOf(steps[id]!)) if (edge.to in steps && !seen.has(edge.to)) queue.push(edge.to);
  }
  return [
    ...ordered,
    ...Object.keys(steps)
      .filter((id) => !seen.has(id))
      .sort(),
  ];
}
