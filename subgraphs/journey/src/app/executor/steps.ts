// What each step type does for one run, in memory: the branch it takes, the wait it parks on,
// or the end it reaches, and the events it asks for. The walk (walk.ts) records each step once
// and commits its events with the run's new state; nothing here does I/O.
import { catalogue, type EventDefinition } from '@mauntic/kernel';
import { branchFor } from '../../domain/branches.ts';
import { durationMs, type Step, type StepId, type StepOf } from '../../domain/definition.ts';
import { evaluateFilter } from './contact-filter.ts';
import type { ContactState } from './contact-state.ts';
import type { ClaimedRun, LoadedVersion, RunWait } from './run-state.ts';
import { addDays, inWindow, nextTimeOfDay, windowOpensAt, zonedInstant } from './zoned-time.ts';

export type ExitReason = 'exit_step' | 'left_segment' | 'dnc' | 'contact_deleted' | 'holdout';

export type StepResult =
  /** The step is done; the run goes on to `to` (null: the path ends, the run completed). */
  | { go: StepId | null; outcome: Record<string, unknown>; skipped?: boolean }
  /** The run waits at this step until `dueAt` or an event; the step is not done yet. */
  | { park: { dueAt: Date | null; wait: RunWait } }
  /** The step is done and the run ends here. */
  | { end: 'converted' | 'exited'; reason?: ExitReason; goal?: string; outcome: Record<string, unknown> };

export interface StepContext {
  run: ClaimedRun;
  version: LoadedVersion;
  stepId: StepId;
  visit: number;
  now: Date;
  /** The contact's time zone, else the journey's, else UTC. */
  zone: string;
  contact: ContactState;
  /** What the run waited for at this step, when it was parked here (null: it just arrived). */
  parked: RunWait | null;
  dueAt: Date | null;
  /** Sends counted against the journey's frequency cap (updated as this walk sends). */
  capped: { sent: number };
  /** `journey:<runId>:<stepId>:<visit>` */
  key: string;
  emit<T>(definition: EventDefinition<string, T>, data: T): void;
  /** Starts a run of another journey for the contact, when the walk commits. */
  enter(journeyId: string): void;
}

export function runStep(step: Step, ctx: StepContext): StepResult {
  switch (step.type) {
    case 'send':
      return send(step, ctx);
    case 'delay':
      return delay(step, ctx);
    case 'waitFor':
      return waitFor(step, ctx);
    case 'condition': {
      const { matches, unsupported } = evaluateFilter(step.filter, ctx.contact, { now: ctx.now, timeZone: ctx.zone });
      return {
        go: matches ? step.yes : step.no,
        outcome: { matched: matches, ...(unsupported.length ? { unsupported } : {}) },
      };
    }
    case 'split':
    case 'experiment':
      return split(step, ctx);
    case 'updateContact':
      return updateContact(step, ctx);
    case 'segment':
      ctx.emit(catalogue.journeyActions.segmentChangeRequested, {
        ...request(ctx),
        segmentId: step.segmentId,
        action: step.action,
      });
      if (step.action === 'add') ctx.contact.segments.add(step.segmentId);
      else ctx.contact.segments.delete(step.segmentId);
      return { go: step.next, outcome: { action: step.action, segmentId: step.segmentId } };
    case 'emitEvent':
      ctx.emit(catalogue.journeyActions.contactEventRequested, {
        ...request(ctx),
        name: step.name,
        properties: step.properties ?? {},
      });
      return { go: step.next, outcome: { event: step.name } };
    case 'enterJourney':
      ctx.enter(step.journeyId);
      return { go: step.next ?? null, outcome: { journeyId: step.journeyId } };
    case 'jump':
      return { go: step.to, outcome: {} };
    case 'notify':
      ctx.emit(catalogue.journeyActions.notificationRequested, {
        ...request(ctx),
        via: step.via,
        target: step.target,
        templateId: step.templateId ?? null,
        context: ctx.run.data,
      });
      return { go: step.next, outcome: { via: step.via } };
    case 'goal':
      return { end: 'converted', goal: step.name, outcome: { goal: step.name } };
    case 'exit':
      return { end: 'exited', reason: 'exit_step', outcome: {} };
  }
}

const request = (ctx: StepContext) => ({
  runId: ctx.run.id,
  journeyId: ctx.run.journeyId,
  stepId: ctx.stepId,
  idempotencyKey: ctx.key,
});

/**
 * A send request to delivery, once per run, step and visit (delivery makes one message per
 * idempotency key). Outside the sending window it waits for the window; over the frequency cap,
 * it is skipped with its reason and the run goes on.
 */
function send(step: StepOf<'send'>, ctx: StepContext): StepResult {
  const { settings } = ctx.version.definition;
  const window = settings.sendingWindow;
  if (window && !inWindow(ctx.now, ctx.zone, window))
    return { park: { dueAt: windowOpensAt(ctx.now, ctx.zone, window), wait: { kind: 'window' } } };
  const cap = settings.frequencyCap;
  if (cap && ctx.capped.sent >= cap.max)
    return { go: step.next, skipped: true, outcome: { channel: step.channel, reason: 'frequency_cap' } };
  ctx.capped.sent++;
  ctx.emit(catalogue.delivery.messageRequested, {
    channel: step.channel,
    templateId: step.templateId,
    contactId: ctx.run.contactId,
    address: null,
    context: { ...ctx.run.data, ...step.context },
    idempotencyKey: ctx.key,
    source: { kind: 'journey', id: ctx.run.journeyId, stepId: ctx.stepId },
  });
  return { go: step.next, outcome: { channel: step.channel, messageRequest: ctx.key } };
}

function delay(step: StepOf<'delay'>, ctx: StepContext): StepResult {
  if (ctx.parked?.kind === 'delay') {
    if (ctx.dueAt && ctx.dueAt.getTime() > ctx.now.getTime()) return { park: { dueAt: ctx.dueAt, wait: ctx.parked } };
    return { go: step.next, outcome: { waitedUntil: ctx.dueAt?.toISOString() ?? null } };
  }
  const due = delayDue(step.wait, ctx);
  // A date field in the past (or missing) does not wait.
  if (!due || due.getTime() <= ctx.now.getTime())
    return { go: step.next, outcome: { waitedUntil: null, ...(due ? {} : { reason: 'no_date' }) } };
  return { park: { dueAt: due, wait: { kind: 'delay' } } };
}

function delayDue(wait: StepOf<'delay'>['wait'], ctx: StepContext): Date | null {
  if ('duration' in wait) return new Date(ctx.now.getTime() + durationMs(wait.duration)!);
  if ('until' in wait) return nextTimeOfDay(ctx.now, ctx.zone, wait.until, wait.days);
  const value = ctx.contact.value(wait.field);
  const date = typeof value === 'string' || value instanceof Date ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) return null;
  // A day-only value is that day's start in the contact's zone; a date-time keeps its time.
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [year, month, day] = value.split('-').map(Number) as [number, number, number];
    return zonedInstant(addDays({ year, month, day }, wait.offsetDays), { hour: 0, minute: 0 }, ctx.zone);
  }
  return new Date(date.getTime() + wait.offsetDays * 86_400_000);
}

function waitFor(step: StepOf<'waitFor'>, ctx: StepContext): StepResult {
  const parked = ctx.parked;
  if (parked?.kind === 'event') {
    if (parked.matched) return { go: step.onEvent, outcome: { event: 'matched', eventId: parked.eventId ?? null } };
    if (!ctx.dueAt || ctx.dueAt.getTime() <= ctx.now.getTime())
      return { go: step.onTimeout, outcome: { event: 'timeout' } };
    return { park: { dueAt: ctx.dueAt, wait: parked } };
  }
  return {
    park: {
      dueAt: new Date(ctx.now.getTime() + durationMs(step.timeout)!),
      wait: { kind: 'event', event: step.event },
    },
  };
}

function split(step: StepOf<'split' | 'experiment'>, ctx: StepContext): StepResult {
  const index = branchFor(
    ctx.run.journeyId,
    ctx.run.contactId,
    ctx.stepId,
    step.branches.map((b) => b.weight),
  );
  const branch = step.branches[index]!;
  const outcome = { branch: index, ...(branch.name ? { name: branch.name } : {}) };
  if (branch.next === null) return { end: 'exited', reason: 'holdout', outcome: { ...outcome, holdout: true } };
  return { go: branch.next, outcome };
}

function updateContact(step: StepOf<'updateContact'>, ctx: StepContext): StepResult {
  const { type: _, next, ...change } = step;
  ctx.emit(catalogue.journeyActions.contactUpdateRequested, { ...request(ctx), ...change });
  ctx.contact.apply(change);
  return { go: next, outcome: { requested: Object.keys(change) } };
}
