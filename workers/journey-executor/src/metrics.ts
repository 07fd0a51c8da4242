// The executor's figures at /metrics: steps executed and batches walked.
import type { BatchStats } from '@mauntic/journey/executor';
import { registry } from '@mauntic/platform';
import { Counter } from 'prom-client';

const transitions = new Counter({
  name: 'mauntic_journey_transitions_total',
  help: 'Journey steps executed and committed',
  registers: [registry],
});
const claimed = new Counter({
  name: 'mauntic_journey_runs_claimed_total',
  help: 'Runs claimed by the steppers (a run is claimed once per walk)',
  registers: [registry],
});
const lost = new Counter({
  name: 'mauntic_journey_runs_taken_over_total',
  help: 'Walked runs whose result was dropped because their lease was taken (another executor, an interrupt)',
  registers: [registry],
});

export function countBatch(stats: BatchStats): void {
  transitions.inc(stats.transitions);
  claimed.inc(stats.claimed);
  lost.inc(stats.lost);
}
