// The dispatcher's figures at /metrics: webhook attempts by outcome, and how long endpoints took.
import { registry } from '@mauntic/platform';
import { Counter, Histogram } from 'prom-client';

const attempts = new Counter({
  name: 'mauntic_webhook_attempts_total',
  help: 'Webhook POSTs made, by outcome (succeeded: 2xx; failed: anything else, or no answer)',
  labelNames: ['outcome'],
  registers: [registry],
});
const latency = new Histogram({
  name: 'mauntic_webhook_latency_seconds',
  help: 'Time from connecting to the end of the answer of webhook POSTs',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const countAttempt = (outcome: 'succeeded' | 'failed', latencyMs: number) => {
  attempts.inc({ outcome });
  latency.observe(latencyMs / 1000);
};
