// The rules a journey definition must pass to be published, pure: every problem is an issue that
// points at its step and its place. Three layers: the shape (zod), the graph (references,
// reachability, cycles, weights, and each step's own sense), and the organization's data
// (templates, custom fields, segments, journeys), which the caller loads and passes in.
import { type FilterField, validateFilter } from '@mauntic/crm/filter';
import { catalogueEntries } from '@mauntic/kernel';
import {
  type Channel,
  CUSTOM_FIELD,
  DATE_FIELDS,
  type EntryTrigger,
  type EventMatch,
  edgesOf,
  type Filter,
  type JourneyDefinition,
  type JourneySettings,
  journeyDefinition,
  SETTABLE_FIELDS,
  type Step,
  type StepId,
} from './definition.ts';
import type { IssueCode, JourneyIssue } from './errors.ts';
import { parseLocalDateTime, Recurrence, ruleProblem, wallClock } from './schedule.ts';

type Path = (string | number)[];

const issue = (path: Path, code: IssueCode, message: string): JourneyIssue => ({
  stepId: path[0] === 'steps' && typeof path[1] === 'string' ? path[1] : null,
  path: path.map(String),
  code,
  message,
});

/** What the organization holds that a definition may name. */
export interface ValidationContext {
  /** The journey the definition belongs to: it may not enter itself. */
  journeyId?: string;
  /** Templates that exist (not deleted), by id, with their channel. */
  templates: ReadonlyMap<string, Channel>;
  /** Custom contact fields that exist, by key, with their type (text, date, datetime...). */
  fields: ReadonlyMap<string, string>;
  /** Segments that exist (not deleted), by id, with their kind. */
  segments: ReadonlyMap<string, 'dynamic' | 'static'>;
  /** The organization's journeys. */
  journeys: ReadonlySet<string>;
}

export interface Validation {
  /** The parsed definition (defaults filled in), or null when it does not have the shape of one. */
  definition: JourneyDefinition | null;
  issues: JourneyIssue[];
}

/** Every issue of a definition; the data rules run when a context is given. */
export function validateDefinition(raw: unknown, context?: ValidationContext, now: Date = new Date()): Validation {
  const parsed = journeyDefinition.safeParse(raw);
  if (!parsed.success)
    return {
      definition: null,
      issues: parsed.error.issues.map((i) => issue(i.path as Path, 'invalid', i.message)),
    };
  const definition = parsed.data;
  return {
    definition,
    issues: [...graphIssues(definition, now), ...(context ? contextIssues(definition, context) : [])],
  };
}

// --- the graph -----------------------------------------------------------------------------------

/** The rules that need only the definition (and the time, for a schedule's future). */
export function graphIssues(definition: JourneyDefinition, now: Date = new Date()): JourneyIssue[] {
  return [
    ...unknownReferences(definition),
    ...unreachableSteps(definition),
    ...cyclesWithoutWait(definition),
    ...stepRules(definition),
    ...settingsRules(definition),
    ...definition.entry.flatMap((trigger, i) => triggerRules(trigger, ['entry', i], definition.settings, now)),
  ];
}

function unknownReferences({ steps, start }: JourneyDefinition): JourneyIssue[] {
  const issues: JourneyIssue[] = [];
  if (!(start in steps)) issues.push(issue(['start'], 'unknown_step', `there is no step ${start}`));
  for (const [id, s] of Object.entries(steps))
    for (const edge of edgesOf(s))
      if (!(edge.to in steps))
        issues.push(issue(['steps', id, ...edge.path], 'unknown_step', `leads to ${edge.to}, which is not a step`));
  return issues;
}

/** Goal steps whose event converts a run anywhere: reachable without an edge. */
const eventGoals = (definition: JourneyDefinition) => new Set(definition.settings.exit?.goals ?? []);

function unreachableSteps(definition: JourneyDefinition): JourneyIssue[] {
  const { steps, start } = definition;
  // An unknown start is reported once, not as every step being unreachable.
  if (!(start in steps)) return [];
  const reached = new Set<StepId>();
  const queue = [start];
  for (const goal of eventGoals(definition)) if (steps[goal]?.type === 'goal') queue.push(goal);
  while (queue.length) {
    const id = queue.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    for (const edge of edgesOf(steps[id]!)) if (edge.to in steps && !reached.has(edge.to)) queue.push(edge.to);
  }
  return Object.keys(steps)
    .filter((id) => !reached.has(id))
    .map((id) => issue(['steps', id], 'unreachable_step', `no path from the start (${start}) leads here`));
}

/**
 * A step that always makes the run wait: a wait for an event, a delay for a duration or until a
 * time of day. A delay until a date field does not count: a date in the past does not wait.
 */
const waits = (s: Step) => s.type === 'waitFor' || (s.type === 'delay' && !('field' in s.wait));

/** Loops a run could go round without ever waiting (Tarjan's strongly connected components). */
function cyclesWithoutWait({ steps }: JourneyDefinition): JourneyIssue[] {
  const nodes = Object.keys(steps).filter((id) => !waits(steps[id]!));
  const inGraph = new Set(nodes);
  const successors = (id: StepId) =>
    edgesOf(steps[id]!)
      .map((e) => e.to)
      .filter((to) => inGraph.has(to));
  const index = new Map<StepId, number>();
  const low = new Map<StepId, number>();
  const stack: StepId[] = [];
  const onStack = new Set<StepId>();
  const issues: JourneyIssue[] = [];
  let counter = 0;

  const visit = (id: StepId) => {
    index.set(id, counter);
    low.set(id, counter++);
    stack.push(id);
    onStack.add(id);
    for (const to of successors(id)) {
      if (!index.has(to)) {
        visit(to);
        low.set(id, Math.min(low.get(id)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(id, Math.min(low.get(id)!, index.get(to)!));
    }
    if (low.get(id) !== index.get(id)) return;
    const component: StepId[] = [];
    let member: StepId;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== id);
    if (component.length > 1 || successors(id).includes(id)) {
      const loop = component.sort();
      issues.push(
        issue(
          ['steps', loop[0]!],
          'cycle_without_wait',
          `steps ${loop.join(', ')} form a loop with no delay or wait in it`,
        ),
      );
    }
  };
  for (const id of nodes) if (!index.has(id)) visit(id);
  return issues;
}

/** Each step's own sense, apart from its edges. */
function stepRules({ steps }: JourneyDefinition): JourneyIssue[] {
  return Object.entries(steps).flatMap(([id, s]) => {
    const at = (...path: Path) => ['steps', id, ...path];
    switch (s.type) {
      case 'split':
      case 'experiment':
        return branchRules(s, at);
      case 'waitFor': {
        if (s.event.kind !== 'opened' && s.event.kind !== 'clicked') return [];
        const sent = steps[s.event.step];
        if (!sent) return [issue(at('event', 'step'), 'unknown_step', `there is no step ${s.event.step}`)];
        return sent.type === 'send' && sent.channel === 'email'
          ? []
          : [issue(at('event', 'step'), 'not_an_email_send', `${s.event.step} does not send an email`)];
      }
      case 'delay':
        return 'field' in s.wait ? fieldNameRules(s.wait.field, DATE_FIELDS, at('wait', 'field')) : [];
      case 'updateContact': {
        const names = Object.keys(s.set ?? {}).flatMap((key) => fieldNameRules(key, SETTABLE_FIELDS, at('set', key)));
        const changes = [s.set && Object.keys(s.set).length, s.addTags?.length, s.removeTags?.length, s.points];
        const empty = !changes.some(Boolean) && s.stageId === undefined && s.ownerId === undefined && !s.dnc;
        return empty ? [...names, issue(at(), 'empty_update', 'changes nothing')] : names;
      }
      case 'notify':
        return validTarget(s.via, s.target)
          ? []
          : [
              issue(
                at('target'),
                'invalid_target',
                s.via === 'webhook' ? 'must be an http(s) URL' : 'must be an email address',
              ),
            ];
      case 'goal':
        return s.event ? eventRules(s.event, at('event')) : [];
      default:
        return [];
    }
  });
}

function branchRules(s: Extract<Step, { type: 'split' | 'experiment' }>, at: (...path: Path) => Path) {
  const issues: JourneyIssue[] = [];
  const total = s.branches.reduce((sum, b) => sum + b.weight, 0);
  if (total !== 100) issues.push(issue(at('branches'), 'weights_not_100', `the weights add up to ${total}, not 100`));
  const seen = new Set<string>();
  s.branches.forEach((b, i) => {
    if (!b.name) return;
    if (seen.has(b.name))
      issues.push(issue(at('branches', i, 'name'), 'duplicate_variant', `another branch is named ${b.name}`));
    seen.add(b.name);
  });
  return issues;
}

/** A field name must be a custom field (`fields.<key>`, checked against the organization) or one of `standard`. */
function fieldNameRules(name: string, standard: readonly string[], path: Path): JourneyIssue[] {
  if (CUSTOM_FIELD.test(name) || standard.includes(name)) return [];
  return [issue(path, 'unknown_field', `${name} is not fields.<key> or one of ${standard.join(', ')}`)];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function validTarget(via: 'webhook' | 'email', target: string): boolean {
  if (via === 'email') return EMAIL.test(target);
  try {
    return ['http:', 'https:'].includes(new URL(target).protocol);
  } catch {
    return false;
  }
}

function settingsRules({ steps, settings }: JourneyDefinition): JourneyIssue[] {
  const issues: JourneyIssue[] = [];
  (settings.exit?.goals ?? []).forEach((goal, i) => {
    const at = ['settings', 'exit', 'goals', i];
    const s = steps[goal];
    if (!s) issues.push(issue(at, 'unknown_step', `there is no step ${goal}`));
    else if (s.type !== 'goal' || !s.event)
      issues.push(issue(at, 'not_a_goal', `${goal} is not a goal step with an event that converts`));
  });
  const window = settings.sendingWindow;
  if (window && window.from === window.to)
    issues.push(issue(['settings', 'sendingWindow'], 'empty_window', 'from and to are the same time'));
  return issues;
}

function triggerRules(trigger: EntryTrigger, at: Path, settings: JourneySettings, now: Date): JourneyIssue[] {
  switch (trigger.type) {
    case 'event':
      return eventRules(trigger, at);
    case 'dateField':
      return fieldNameRules(trigger.field, DATE_FIELDS, [...at, 'field']);
    case 'schedule':
      return scheduleRules(trigger, settings, now, at);
    default:
      return [];
  }
}

/** Catalogued events that concern a contact: the ones a run can follow. */
const CONTACT_EVENTS = new Set(
  catalogueEntries()
    .filter((d) => d.subjectType === 'contact')
    .map((d) => d.type),
);

function eventRules(match: Omit<EventMatch, 'type'>, at: Path): JourneyIssue[] {
  if (match.event === 'custom')
    return match.name ? [] : [issue([...at, 'name'], 'invalid', 'a custom event needs its name')];
  if (!CONTACT_EVENTS.has(match.event))
    return [
      issue(
        [...at, 'event'],
        'unknown_event',
        `${match.event} is not a catalogued event about a contact (use "custom" with a name for your own events)`,
      ),
    ];
  return match.name ? [issue([...at, 'name'], 'invalid', 'only custom events have a name')] : [];
}

type ScheduleTrigger = Extract<EntryTrigger, { type: 'schedule' }>;

/**
 * A schedule's rule must be one the executor runs (RFC 5545, at most once a minute) and must still
 * occur after `now`, on its zone's clock, from its start (now when it gives none: publishing starts it).
 */
function scheduleRules(trigger: ScheduleTrigger, settings: JourneySettings, now: Date, at: Path): JourneyIssue[] {
  const problem = ruleProblem(trigger.rrule);
  if (problem) return [issue([...at, 'rrule'], 'invalid_rrule', problem)];
  const zone = trigger.timezone ?? settings.timezone ?? 'UTC';
  const wallNow = wallClock(now, zone);
  const start = (trigger.dtstart && parseLocalDateTime(trigger.dtstart)) || wallNow;
  if (new Recurrence(trigger.rrule, start, zone).firstFrom(wallNow)) return [];
  return [
    issue([...at, 'rrule'], 'invalid_rrule', `has no occurrence after ${wallNow.toISOString().slice(0, 16)} (${zone})`),
  ];
}

// --- the organization's data ---------------------------------------------------------------------

/** Where a definition names something the organization holds. */
interface Reference {
  kind: 'template' | 'field' | 'dateField' | 'segment' | 'staticSegment' | 'journey';
  id: string;
  path: Path;
  /** For templates: the channel the step sends on. */
  channel?: Channel;
}

/** Everything a definition names outside itself: the caller loads just these. */
export function referencesOf(definition: JourneyDefinition): Reference[] {
  const refs: Reference[] = [];
  const field = (name: string, path: Path, kind: 'field' | 'dateField' = 'field') => {
    const custom = CUSTOM_FIELD.exec(name);
    if (custom) refs.push({ kind, id: custom[1]!, path });
  };
  definition.entry.forEach((t, i) => {
    if (t.type === 'segmentEntered' || t.type === 'segmentExited' || t.type === 'schedule')
      refs.push({ kind: 'segment', id: t.segmentId, path: ['entry', i, 'segmentId'] });
    if (t.type === 'dateField') field(t.field, ['entry', i, 'field'], 'dateField');
  });
  for (const [id, s] of Object.entries(definition.steps)) {
    const at = (...path: Path) => ['steps', id, ...path];
    switch (s.type) {
      case 'send':
        refs.push({ kind: 'template', id: s.templateId, path: at('templateId'), channel: s.channel });
        break;
      case 'notify':
        if (s.templateId) refs.push({ kind: 'template', id: s.templateId, path: at('templateId'), channel: s.via });
        break;
      case 'delay':
        if ('field' in s.wait) field(s.wait.field, at('wait', 'field'), 'dateField');
        break;
      case 'condition':
        refs.push(...filterReferences(s.filter, at('filter')));
        break;
      case 'updateContact':
        for (const key of Object.keys(s.set ?? {})) field(key, at('set', key));
        break;
      case 'segment':
        refs.push({ kind: 'staticSegment', id: s.segmentId, path: at('segmentId') });
        break;
      case 'enterJourney':
        refs.push({ kind: 'journey', id: s.journeyId, path: at('journeyId') });
        break;
    }
  }
  const leaves = definition.settings.exit?.leavesSegment;
  if (leaves) refs.push({ kind: 'segment', id: leaves, path: ['settings', 'exit', 'leavesSegment'] });
  return refs;
}

/** Custom fields (`fields.<key>`) and segments a contact filter names, wherever they sit in the tree. */
function filterReferences(node: unknown, path: Path): Reference[] {
  if (Array.isArray(node)) return node.flatMap((child, i) => filterReferences(child, [...path, i]));
  if (!node || typeof node !== 'object') return [];
  const refs: Reference[] = [];
  const { field, segment } = node as Filter;
  const custom = typeof field === 'string' ? CUSTOM_FIELD.exec(field) : null;
  if (custom) refs.push({ kind: 'field', id: custom[1]!, path: [...path, 'field'] });
  const segmentId = segment && typeof segment === 'object' ? (segment as { id?: unknown }).id : undefined;
  if (typeof segmentId === 'string') refs.push({ kind: 'segment', id: segmentId, path: [...path, 'segment', 'id'] });
  for (const key of ['and', 'or', 'not'])
    if (key in (node as Filter)) refs.push(...filterReferences((node as Filter)[key], [...path, key]));
  return refs;
}

const DATE_TYPES = new Set(['date', 'datetime']);

/** The rules that need the organization's data. */
export function contextIssues(definition: JourneyDefinition, context: ValidationContext): JourneyIssue[] {
  const references = referenceIssues(definition, context);
  // An unknown field or segment in a filter is already told, at the same place.
  const told = new Set(references.map((i) => i.path.join('.')));
  const grammar = conditionIssues(definition, context).filter(
    (i) => ![...told].some((path) => i.path.join('.').startsWith(path) || path.startsWith(i.path.join('.'))),
  );
  return [...references, ...grammar];
}

// The journey's copy of CRM's fields has no select choices: such fields are checked as text.
const FILTER_TYPE: Record<string, string> = { select: 'text', multiselect: 'text' };

/** Each condition's filter through CRM's own grammar check, against the journey's copies of CRM's fields and segments. */
function conditionIssues(definition: JourneyDefinition, context: ValidationContext): JourneyIssue[] {
  const fields = [...context.fields].map(([key, type]) => ({
    key,
    entity: 'contact' as const,
    type: (FILTER_TYPE[type] ?? type) as FilterField['type'],
    options: {},
  }));
  const filterContext = { fields, segmentExists: (id: string) => context.segments.has(id) };
  return Object.entries(definition.steps).flatMap(([id, s]): JourneyIssue[] => {
    if (s.type !== 'condition') return [];
    const checked = validateFilter(s.filter, filterContext);
    if (checked.ok) return [];
    // CRM's issue paths start at the tree ('filter', ...), as the step's own field does.
    return checked.error.issues.map((i) => issue(['steps', id, ...i.path], 'invalid_filter', i.message));
  });
}

function referenceIssues(definition: JourneyDefinition, context: ValidationContext): JourneyIssue[] {
  return referencesOf(definition).flatMap((ref): JourneyIssue[] => {
    const { id, path } = ref;
    switch (ref.kind) {
      case 'template': {
        const channel = context.templates.get(id);
        if (!channel) return [issue(path, 'unknown_template', `there is no template ${id}`)];
        return channel === ref.channel
          ? []
          : [issue(path, 'wrong_template_channel', `template ${id} is for ${channel}, not ${ref.channel}`)];
      }
      case 'field':
      case 'dateField': {
        const type = context.fields.get(id);
        if (!type) return [issue(path, 'unknown_field', `there is no custom field ${id}`)];
        return ref.kind === 'dateField' && !DATE_TYPES.has(type)
          ? [issue(path, 'wrong_field_type', `custom field ${id} holds ${type}, not a date`)]
          : [];
      }
      case 'segment':
      case 'staticSegment': {
        const kind = context.segments.get(id);
        if (!kind) return [issue(path, 'unknown_segment', `there is no segment ${id}`)];
        return ref.kind === 'staticSegment' && kind !== 'static'
          ? [issue(path, 'segment_not_static', `segment ${id} is dynamic: its members follow its filter`)]
          : [];
      }
      default: // a journey
        if (id === context.journeyId) return [issue(path, 'self_reference', 'a journey cannot enter itself')];
        return context.journeys.has(id) ? [] : [issue(path, 'unknown_journey', `there is no journey ${id}`)];
    }
  });
}
