import { describe, expect, it } from 'vitest';
import type { JourneyDefinition } from './definition.ts';
import type { IssueCode } from './errors.ts';
import { type ValidationContext, validateDefinition } from './validation.ts';

const EMAIL_TEMPLATE = '01900000-0000-7000-8000-0000000000e1';
const SMS_TEMPLATE = '01900000-0000-7000-8000-0000000000e2';
const DYNAMIC_SEGMENT = '01900000-0000-7000-8000-0000000000d1';
const STATIC_SEGMENT = '01900000-0000-7000-8000-0000000000d2';
const THIS_JOURNEY = '01900000-0000-7000-8000-0000000000a1';
const OTHER_JOURNEY = '01900000-0000-7000-8000-0000000000a2';
const UNKNOWN = '01900000-0000-7000-8000-0000000000ff';

const context: ValidationContext = {
  journeyId: THIS_JOURNEY,
  templates: new Map([
    [EMAIL_TEMPLATE, 'email'],
    [SMS_TEMPLATE, 'sms'],
  ]),
  fields: new Map([
    ['plan', 'select'],
    ['renewal', 'date'],
  ]),
  segments: new Map([
    [DYNAMIC_SEGMENT, 'dynamic'],
    [STATIC_SEGMENT, 'static'],
  ]),
  journeys: new Set([THIS_JOURNEY, OTHER_JOURNEY]),
};

/** A journey that uses every kind of reference, valid as it is. */
const valid = (): JourneyDefinition => ({
  entry: [
    { type: 'segmentEntered', segmentId: DYNAMIC_SEGMENT },
    { type: 'event', event: 'crm.contact.tagged' },
    { type: 'event', event: 'custom', name: 'purchase', where: { field: 'amount', op: 'gt', value: 10 } },
    { type: 'dateField', field: 'fields.renewal', offsetDays: -7, repeat: 'yearly', at: '09:00' },
    { type: 'schedule', rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9', segmentId: STATIC_SEGMENT },
  ],
  start: 'welcome',
  steps: {
    welcome: { type: 'send', channel: 'email', templateId: EMAIL_TEMPLATE, next: 'opened' },
    opened: {
      type: 'waitFor',
      event: { kind: 'opened', step: 'welcome' },
      timeout: '1 day',
      onEvent: 'pro',
      onTimeout: 'nudge',
    },
    nudge: { type: 'send', channel: 'sms', templateId: SMS_TEMPLATE, next: 'pro' },
    pro: { type: 'condition', filter: { field: 'fields.plan', op: 'eq', value: 'pro' }, yes: 'ab', no: 'tag' },
    ab: {
      type: 'experiment',
      branches: [
        { name: 'a', weight: 45, next: 'tag' },
        { name: 'b', weight: 45, next: 'later' },
        { name: 'holdout', weight: 10, next: null },
      ],
    },
    later: { type: 'delay', wait: { until: '09:00', days: ['mon'] }, next: 'tag' },
    tag: {
      type: 'updateContact',
      set: { firstName: 'Ada', 'fields.plan': 'pro' },
      addTags: ['journeyed'],
      next: 'keep',
    },
    keep: { type: 'segment', action: 'add', segmentId: STATIC_SEGMENT, next: 'other' },
    other: { type: 'enterJourney', journeyId: OTHER_JOURNEY, next: 'tell' },
    tell: { type: 'notify', via: 'webhook', target: 'https://hooks.example.com/x', next: 'done' },
    done: { type: 'exit' },
    bought: { type: 'goal', name: 'Bought', event: { event: 'custom', name: 'purchase' } },
  },
  settings: {
    entryRule: { kind: 'oncePer', period: '30 days' },
    exit: { goals: ['bought'], leavesSegment: DYNAMIC_SEGMENT, becomesDnc: ['email'] },
    sendingWindow: { days: ['mon', 'tue'], from: '09:00', to: '17:00' },
  },
});

const codesOf = (raw: unknown, ctx: ValidationContext | undefined = context) =>
  validateDefinition(raw, ctx).issues.map((i) => ({ stepId: i.stepId, path: i.path.join('.'), code: i.code }));

/** The one issue a change to the valid journey causes. */
function onlyIssue(change: (d: JourneyDefinition) => void, ctx: ValidationContext = context) {
  const d = valid();
  change(d);
  const issues = codesOf(d, ctx);
  expect(issues).toHaveLength(1);
  return issues[0]!;
}

describe('journey definition validation', () => {
  it('finds nothing wrong with a definition that uses every kind of step and reference', () => {
    expect(codesOf(valid())).toEqual([]);
  });

  it('reports the shape first, pointing at the step and field', () => {
    const d = valid() as any;
    d.steps.welcome.templateId = 'not-a-uuid';
    d.steps.Bad = { type: 'exit' };
    delete d.entry;
    const issues = codesOf(d);
    expect(issues).toContainEqual({ stepId: 'welcome', path: 'steps.welcome.templateId', code: 'invalid' });
    expect(issues).toContainEqual({ stepId: null, path: 'entry', code: 'invalid' });
    expect(issues.some((i) => i.path.startsWith('steps.Bad'))).toBe(true);
    expect(validateDefinition(d, context).definition).toBeNull();
  });

  it('refuses an unknown step type and a bad duration', () => {
    const d = valid() as any;
    d.steps.later = { type: 'teleport', next: 'tag' };
    d.steps.opened.timeout = '3 fortnights';
    const issues = codesOf(d);
    expect(issues).toContainEqual({ stepId: 'later', path: 'steps.later.type', code: 'invalid' });
    expect(issues).toContainEqual({ stepId: 'opened', path: 'steps.opened.timeout', code: 'invalid' });
  });

  it('fills in the default settings', () => {
    const { definition } = validateDefinition({ entry: [{ type: 'api' }], start: 'x', steps: { x: { type: 'exit' } } });
    expect(definition?.settings).toEqual({ entryRule: { kind: 'once' } });
  });

  const rules: [string, (d: JourneyDefinition) => void, { stepId: string | null; path: string; code: IssueCode }][] = [
    [
      'an edge to a step that does not exist',
      (d) => {
        d.steps.nudge = { type: 'send', channel: 'sms', templateId: SMS_TEMPLATE, next: 'nowhere' };
      },
      { stepId: 'nudge', path: 'steps.nudge.next', code: 'unknown_step' },
    ],
    [
      'a start that does not exist',
      (d) => {
        d.start = 'begin';
      },
      { stepId: null, path: 'start', code: 'unknown_step' },
    ],
    [
      'a branch to a step that does not exist',
      (d) => {
        (d.steps.ab as any).branches[1].next = 'nowhere';
        delete d.steps.later;
      },
      { stepId: 'ab', path: 'steps.ab.branches.1.next', code: 'unknown_step' },
    ],
    [
      'an unreachable step',
      (d) => {
        d.steps.orphan = { type: 'exit' };
      },
      { stepId: 'orphan', path: 'steps.orphan', code: 'unreachable_step' },
    ],
    [
      'a goal that is not among the exit goals and that no edge reaches',
      (d) => {
        d.settings.exit = { goals: [] };
      },
      { stepId: 'bought', path: 'steps.bought', code: 'unreachable_step' },
    ],
    [
      'a loop without a delay or a wait',
      (d) => {
        d.steps.done = { type: 'jump', to: 'tag' };
      },
      { stepId: 'done', path: 'steps.done', code: 'cycle_without_wait' },
    ],
    [
      'a step that jumps to itself',
      (d) => {
        d.steps.done = { type: 'jump', to: 'done' };
      },
      { stepId: 'done', path: 'steps.done', code: 'cycle_without_wait' },
    ],
    [
      'a loop whose only delay is until a date field (which need not wait)',
      (d) => {
        d.steps.done = { type: 'delay', wait: { field: 'fields.renewal', offsetDays: 1 }, next: 'tag' };
      },
      { stepId: 'done', path: 'steps.done', code: 'cycle_without_wait' },
    ],
    [
      'split weights that do not add up to 100',
      (d) => {
        (d.steps.ab as any).branches[2].weight = 20;
      },
      { stepId: 'ab', path: 'steps.ab.branches', code: 'weights_not_100' },
    ],
    [
      'two variants of an experiment with one name',
      (d) => {
        (d.steps.ab as any).branches[1].name = 'a';
      },
      { stepId: 'ab', path: 'steps.ab.branches.1.name', code: 'duplicate_variant' },
    ],
    [
      'waiting for an open of a step that sends an SMS',
      (d) => {
        (d.steps.opened as any).event.step = 'nudge';
      },
      { stepId: 'opened', path: 'steps.opened.event.step', code: 'not_an_email_send' },
    ],
    [
      'waiting for a click of a step that does not exist',
      (d) => {
        (d.steps.opened as any).event = { kind: 'clicked', step: 'nowhere' };
      },
      { stepId: 'opened', path: 'steps.opened.event.step', code: 'unknown_step' },
    ],
    [
      'an update that changes nothing',
      (d) => {
        d.steps.tag = { type: 'updateContact', set: {}, next: 'keep' };
      },
      { stepId: 'tag', path: 'steps.tag', code: 'empty_update' },
    ],
    [
      'an update of a field that is not settable',
      (d) => {
        d.steps.tag = { type: 'updateContact', set: { points: 3 }, next: 'keep' };
      },
      { stepId: 'tag', path: 'steps.tag.set.points', code: 'unknown_field' },
    ],
    [
      'a webhook notification to something that is not a URL',
      (d) => {
        d.steps.tell = { type: 'notify', via: 'webhook', target: 'ftp://example.com', next: 'done' };
      },
      { stepId: 'tell', path: 'steps.tell.target', code: 'invalid_target' },
    ],
    [
      'an email notification to something that is not an address',
      (d) => {
        d.steps.tell = { type: 'notify', via: 'email', target: 'ops', next: 'done' };
      },
      { stepId: 'tell', path: 'steps.tell.target', code: 'invalid_target' },
    ],
    [
      'an exit goal that is not a goal step',
      (d) => {
        d.settings.exit = { goals: ['bought', 'done'] };
      },
      { stepId: null, path: 'settings.exit.goals.1', code: 'not_a_goal' },
    ],
    [
      'an exit goal that does not exist',
      (d) => {
        d.settings.exit = { goals: ['bought', 'nothing'] };
      },
      { stepId: null, path: 'settings.exit.goals.1', code: 'unknown_step' },
    ],
    [
      'a sending window that opens and closes at once',
      (d) => {
        d.settings.sendingWindow = { days: ['mon'], from: '09:00', to: '09:00' };
      },
      { stepId: null, path: 'settings.sendingWindow', code: 'empty_window' },
    ],
    [
      'an entry event that is not catalogued',
      (d) => {
        d.entry[1] = { type: 'event', event: 'crm.contact.exploded' };
      },
      { stepId: null, path: 'entry.1.event', code: 'unknown_event' },
    ],
    [
      'an entry event that does not concern a contact',
      (d) => {
        d.entry[1] = { type: 'event', event: 'crm.segment.rebuilt' };
      },
      { stepId: null, path: 'entry.1.event', code: 'unknown_event' },
    ],
    [
      'a custom event without its name',
      (d) => {
        d.entry[1] = { type: 'event', event: 'custom' };
      },
      { stepId: null, path: 'entry.1.name', code: 'invalid' },
    ],
    [
      "a goal's event that is not catalogued",
      (d) => {
        d.steps.bought = { type: 'goal', name: 'Bought', event: { event: 'shop.order.placed' } };
      },
      { stepId: 'bought', path: 'steps.bought.event.event', code: 'unknown_event' },
    ],
    [
      'a date trigger on a standard field that is not a date',
      (d) => {
        d.entry[3] = { type: 'dateField', field: 'email', offsetDays: 0, repeat: 'once', at: '09:00' };
      },
      { stepId: null, path: 'entry.3.field', code: 'unknown_field' },
    ],
    [
      'a schedule that is not an RRULE',
      (d) => {
        d.entry[4] = { type: 'schedule', rrule: 'every monday', segmentId: STATIC_SEGMENT };
      },
      { stepId: null, path: 'entry.4.rrule', code: 'invalid_rrule' },
    ],
    [
      'a schedule more often than once a minute',
      (d) => {
        d.entry[4] = { type: 'schedule', rrule: 'FREQ=SECONDLY;INTERVAL=30', segmentId: STATIC_SEGMENT };
      },
      { stepId: null, path: 'entry.4.rrule', code: 'invalid_rrule' },
    ],
    [
      'a schedule whose rule ended before now',
      (d) => {
        d.entry[4] = { type: 'schedule', rrule: 'FREQ=DAILY;UNTIL=20200101', segmentId: STATIC_SEGMENT };
      },
      { stepId: null, path: 'entry.4.rrule', code: 'invalid_rrule' },
    ],
    [
      'a schedule whose COUNT ran out since its start',
      (d) => {
        d.entry[4] = {
          type: 'schedule',
          rrule: 'FREQ=WEEKLY;COUNT=4',
          dtstart: '2025-01-06T09:00',
          segmentId: STATIC_SEGMENT,
        };
      },
      { stepId: null, path: 'entry.4.rrule', code: 'invalid_rrule' },
    ],
    [
      'a schedule that never occurs',
      (d) => {
        d.entry[4] = { type: 'schedule', rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', segmentId: STATIC_SEGMENT };
      },
      { stepId: null, path: 'entry.4.rrule', code: 'invalid_rrule' },
    ],
    [
      'a schedule whose start is not a local date and time',
      (d) => {
        d.entry[4] = {
          type: 'schedule',
          rrule: 'FREQ=DAILY',
          dtstart: '2026-03-02 09:00+01:00',
          segmentId: STATIC_SEGMENT,
        };
      },
      { stepId: null, path: 'entry.4.dtstart', code: 'invalid' },
    ],
    [
      'a schedule in a time zone that does not exist',
      (d) => {
        d.entry[4] = { type: 'schedule', rrule: 'FREQ=DAILY', timezone: 'Mars/Olympus', segmentId: STATIC_SEGMENT };
      },
      { stepId: null, path: 'entry.4.timezone', code: 'invalid' },
    ],
    [
      'a send of a template that does not exist',
      (d) => {
        d.steps.welcome = { type: 'send', channel: 'email', templateId: UNKNOWN, next: 'opened' };
      },
      { stepId: 'welcome', path: 'steps.welcome.templateId', code: 'unknown_template' },
    ],
    [
      'a send on a channel its template is not for',
      (d) => {
        d.steps.nudge = { type: 'send', channel: 'push', templateId: SMS_TEMPLATE, next: 'pro' };
      },
      { stepId: 'nudge', path: 'steps.nudge.templateId', code: 'wrong_template_channel' },
    ],
    [
      'a condition on a custom field that does not exist',
      (d) => {
        d.steps.pro = {
          type: 'condition',
          filter: { and: [{ not: { field: 'fields.tier', op: 'eq', value: 'gold' } }] },
          yes: 'ab',
          no: 'tag',
        };
      },
      { stepId: 'pro', path: 'steps.pro.filter.and.0.not.field', code: 'unknown_field' },
    ],
    [
      'a condition on a segment that does not exist',
      (d) => {
        d.steps.pro = { type: 'condition', filter: { segment: { id: UNKNOWN } }, yes: 'ab', no: 'tag' };
      },
      { stepId: 'pro', path: 'steps.pro.filter.segment.id', code: 'unknown_segment' },
    ],
    [
      'a condition whose filter breaks the grammar (an operator the field type does not take)',
      (d) => {
        d.steps.pro = {
          type: 'condition',
          filter: { field: 'points', op: 'like', value: '%1%' },
          yes: 'ab',
          no: 'tag',
        };
      },
      { stepId: 'pro', path: 'steps.pro.filter.op', code: 'invalid_filter' },
    ],
    [
      'an update of a custom field that does not exist',
      (d) => {
        d.steps.tag = { type: 'updateContact', set: { 'fields.tier': 'gold' }, next: 'keep' };
      },
      { stepId: 'tag', path: 'steps.tag.set.fields.tier', code: 'unknown_field' },
    ],
    [
      'a date trigger on a custom field that is not a date',
      (d) => {
        d.entry[3] = { type: 'dateField', field: 'fields.plan', offsetDays: 0, repeat: 'once', at: '09:00' };
      },
      { stepId: null, path: 'entry.3.field', code: 'wrong_field_type' },
    ],
    [
      'an entry on a segment that does not exist',
      (d) => {
        d.entry[0] = { type: 'segmentEntered', segmentId: UNKNOWN };
      },
      { stepId: null, path: 'entry.0.segmentId', code: 'unknown_segment' },
    ],
    [
      'adding to a dynamic segment',
      (d) => {
        d.steps.keep = { type: 'segment', action: 'add', segmentId: DYNAMIC_SEGMENT, next: 'other' };
      },
      { stepId: 'keep', path: 'steps.keep.segmentId', code: 'segment_not_static' },
    ],
    [
      'an exit on leaving a segment that does not exist',
      (d) => {
        d.settings.exit = { goals: ['bought'], leavesSegment: UNKNOWN };
      },
      { stepId: null, path: 'settings.exit.leavesSegment', code: 'unknown_segment' },
    ],
    [
      'entering a journey that does not exist',
      (d) => {
        d.steps.other = { type: 'enterJourney', journeyId: UNKNOWN, next: 'tell' };
      },
      { stepId: 'other', path: 'steps.other.journeyId', code: 'unknown_journey' },
    ],
    [
      'a journey that enters itself',
      (d) => {
        d.steps.other = { type: 'enterJourney', journeyId: THIS_JOURNEY, next: 'tell' };
      },
      { stepId: 'other', path: 'steps.other.journeyId', code: 'self_reference' },
    ],
  ];

  it.each(rules)('reports %s', (_name, change, expected) => {
    expect(onlyIssue(change)).toEqual(expected);
  });

  it('accepts a loop that goes through a delay or a wait', () => {
    const d = valid();
    d.steps.done = { type: 'delay', wait: { duration: '7 days' }, next: 'tag' };
    d.steps.nudge = { type: 'jump', to: 'welcome' };
    expect(codesOf(d)).toEqual([]);
  });

  it('leaves the organization data rules out without a context', () => {
    const d = valid();
    d.steps.welcome = { type: 'send', channel: 'email', templateId: UNKNOWN, next: 'opened' };
    expect(validateDefinition(d).issues).toEqual([]);
  });

  it('reports every issue at once', () => {
    const d = valid();
    d.steps.orphan = { type: 'exit' };
    (d.steps.ab as any).branches[2].weight = 0;
    d.steps.nudge = { type: 'send', channel: 'sms', templateId: UNKNOWN, next: 'pro' };
    expect(codesOf(d).map((i) => i.code)).toEqual(['unreachable_step', 'weights_not_100', 'unknown_template']);
  });
});

describe('schedule validation', () => {
  const schedule = (rrule: string, extra: { dtstart?: string; timezone?: string } = {}) => {
    const d = valid();
    d.entry[4] = { type: 'schedule', rrule, segmentId: STATIC_SEGMENT, ...extra };
    return d;
  };

  it('judges "no future occurrence" at the time given, on the schedule\'s clock', () => {
    // The last occurrence is 2026-03-02 09:00 in Tokyo, which is 00:00 UTC.
    const d = schedule('FREQ=DAILY;COUNT=2', { dtstart: '2026-03-01T09:00', timezone: 'Asia/Tokyo' });
    expect(validateDefinition(d, context, new Date('2026-03-01T23:59:00Z')).issues).toEqual([]);
    expect(validateDefinition(d, context, new Date('2026-03-02T00:01:00Z')).issues).toEqual([
      {
        stepId: null,
        path: ['entry', '4', 'rrule'],
        code: 'invalid_rrule',
        message: 'has no occurrence after 2026-03-02T09:01 (Asia/Tokyo)',
      },
    ]);
  });

  it('accepts a start in the future and a rule that starts at publication', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(
      validateDefinition(schedule('FREQ=DAILY;COUNT=1', { dtstart: '2030-01-01T09:00' }), context, now).issues,
    ).toEqual([]);
    expect(validateDefinition(schedule('FREQ=MONTHLY;BYDAY=-1FR;COUNT=1'), context, now).issues).toEqual([]);
  });
});
