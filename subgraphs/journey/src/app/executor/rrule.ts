// A schedule trigger's occurrences as instants: its series (domain/schedule.ts, the `rrule`
// library on the wall clock) placed in the schedule's time zone. A wall time that a DST change
// skips falls on the instant RFC 5545 (3.3.5) gives it, read with the offset before the gap (02:30
// on the spring-forward day fires at 03:30 new time); one that a change repeats, on its first
// instant. Series are kept per published version and trigger, so each minute's check expands only
// the hours around it.
import type { EntryTrigger, JourneySettings } from '../../domain/definition.ts';
import { parseLocalDateTime, Recurrence, wallClock } from '../../domain/schedule.ts';
import { knownZone, zonedInstant } from './zoned-time.ts';

type ScheduleTrigger = Extract<EntryTrigger, { type: 'schedule' }>;

const HOUR = 3_600_000;

/** The zone whose clock a schedule is read on: its own, else the journey's, else UTC. */
export const scheduleZone = (trigger: ScheduleTrigger, settings: JourneySettings) =>
  knownZone(trigger.timezone ?? settings.timezone);

export class Schedule {
  readonly zone: string;
  private readonly recurrence: Recurrence;

  /** `publishedAt`: when the version was published, the start of a series that gives no dtstart. */
  constructor(trigger: ScheduleTrigger, settings: JourneySettings, publishedAt: Date) {
    this.zone = scheduleZone(trigger, settings);
    const start = (trigger.dtstart && parseLocalDateTime(trigger.dtstart)) || wallClock(publishedAt, this.zone);
    this.recurrence = new Recurrence(trigger.rrule, start, this.zone);
  }

  /** The occurrences after `after` and at or before `upTo`, in order. */
  occurrences(after: Date, upTo: Date): Date[] {
    // Where a DST change sets the clock back (by at most two hours anywhere), wall times inside the
    // interval run past its ends: the wall-clock window is widened, and the instants filtered.
    const from = new Date(wallClock(after, this.zone).getTime() - 3 * HOUR);
    const to = new Date(wallClock(upTo, this.zone).getTime() + 3 * HOUR);
    const instants = new Set<number>();
    for (const wall of this.recurrence.between(from, to)) {
      const at = zonedInstant(
        { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() },
        { hour: wall.getUTCHours(), minute: wall.getUTCMinutes() },
        this.zone,
      ).getTime();
      if (at > after.getTime() && at <= upTo.getTime()) instants.add(at);
    }
    return [...instants].sort((a, b) => a - b).map((at) => new Date(at));
  }

  /** The latest occurrence after `after` and at or before `upTo`, or null. */
  latest(after: Date, upTo: Date): Date | null {
    return this.occurrences(after, upTo).at(-1) ?? null;
  }
}

/** The schedules of the versions being evaluated, by version and trigger; others are let go. */
export class Schedules {
  private readonly byKey = new Map<string, Schedule>();
  private seen = new Set<string>();

  get(versionId: string, index: number, trigger: ScheduleTrigger, settings: JourneySettings, publishedAt: Date) {
    const key = `${versionId}:${index}`;
    this.seen.add(key);
    let schedule = this.byKey.get(key);
    if (!schedule) {
      schedule = new Schedule(trigger, settings, publishedAt);
      this.byKey.set(key, schedule);
    }
    return schedule;
  }

  /** Ends a pass over the active versions: schedules no pass since the last one asked for go. */
  sweep() {
    for (const key of this.byKey.keys()) if (!this.seen.has(key)) this.byKey.delete(key);
    this.seen = new Set();
  }
}
