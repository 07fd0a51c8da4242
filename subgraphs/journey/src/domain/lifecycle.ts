// A journey's lifecycle: draft until first published, then active or paused, archived for good.
//
//   draft  --publish--> active  --pause-->  paused  --resume--> active
//   draft | active | paused  --archive-->  archived
//   draft | archived  --delete-->  (gone)
//
// Publishing again (a new version) keeps the status: an active journey stays active, a paused one
// stays paused until resumed. The draft can be edited until the journey is archived.
import { fail, ok, type Result } from '@mauntic/kernel';
import { JourneyTransitionError } from './errors.ts';

export const JOURNEY_STATUSES = ['draft', 'active', 'paused', 'archived'] as const;
export type JourneyStatus = (typeof JOURNEY_STATUSES)[number];

export type JourneyAction = 'edit' | 'publish' | 'pause' | 'resume' | 'archive' | 'delete';

/** The status each action leads to, from each status that allows it; `null`: the journey is gone. */
const MOVES: Record<JourneyAction, Partial<Record<JourneyStatus, JourneyStatus | null>>> = {
  edit: { draft: 'draft', active: 'active', paused: 'paused' },
  publish: { draft: 'active', active: 'active', paused: 'paused' },
  pause: { active: 'paused' },
  resume: { paused: 'active' },
  archive: { draft: 'archived', active: 'archived', paused: 'archived' },
  delete: { draft: null, archived: null },
};

/** The status after `action`, or the typed refusal when `status` does not allow it. */
export function transition(
  status: JourneyStatus,
  action: JourneyAction,
): Result<JourneyStatus | null, JourneyTransitionError> {
  const moves = MOVES[action];
  return status in moves ? ok(moves[status] as JourneyStatus | null) : fail(new JourneyTransitionError(status, action));
}
