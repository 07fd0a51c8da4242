// What the executor knows of a run while it walks it: the row as claimed, what it waits for, and
// the contact as the journey context keeps it.
import type { contacts } from '../../db/schema.ts';
import type { JourneyDefinition, StepId, WaitEvent } from '../../domain/definition.ts';

/**
 * Why a run is parked, or what interrupted it. `delay`, `window` and `event` are written by the
 * stepper when a run parks at a step; `goal` and `exit` by the event consumer, which makes the
 * run ready so the stepper converts or ends it wherever it is.
 */
export type RunWait =
  | { kind: 'delay' }
  /** A send waiting for the sending window to open. */
  | { kind: 'window' }
  | { kind: 'event'; event: WaitEvent; matched?: boolean; eventId?: string }
  | { kind: 'goal'; step: StepId; eventId: string }
  | { kind: 'exit'; reason: 'left_segment' | 'dnc' | 'contact_deleted'; eventId: string };

export interface ClaimedRun {
  id: string;
  organizationId: string;
  journeyId: string;
  versionId: string;
  contactId: string;
  state: 'ready' | 'waiting';
  stepId: StepId;
  visit: number;
  dueAt: Date | null;
  wait: RunWait | null;
  data: Record<string, unknown>;
  /** The trace the run continues (runs.trace_parent), if it was entered while tracing was on. */
  traceParent?: string | null;
}

export interface LoadedVersion {
  id: string;
  journeyId: string;
  version: number;
  definition: JourneyDefinition;
  /** Why the stored definition does not parse (publishing refuses that; a row written otherwise may). */
  invalid?: string;
}

export type ContactRow = typeof contacts.$inferSelect;
