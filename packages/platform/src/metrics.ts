// One Prometheus registry per process, served at /metrics by every deployable.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'mauntic_' });

export const metrics = {
  httpRequests: new Histogram({
    name: 'mauntic_http_request_duration_seconds',
    help: 'HTTP requests by service, route and status',
    labelNames: ['service', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  httpInFlight: new Gauge({
    name: 'mauntic_http_requests_in_flight',
    help: 'HTTP requests being served, by service and route',
    labelNames: ['service', 'route'] as const,
    registers: [registry],
  }),
  eventsPublished: new Counter({
    name: 'mauntic_events_published_total',
    help: 'Events published to the bus, by topic',
    labelNames: ['topic'] as const,
    registers: [registry],
  }),
  eventsConsumed: new Counter({
    name: 'mauntic_events_consumed_total',
    help: 'Events handled by consumer groups, by outcome (ok, retried, dead_lettered, duplicate)',
    labelNames: ['group', 'type', 'outcome'] as const,
    registers: [registry],
  }),
  consumerLag: new Gauge({
    name: 'mauntic_consumer_lag',
    help: 'Messages not yet consumed, by consumer group and topic',
    labelNames: ['group', 'topic'] as const,
    registers: [registry],
  }),
  outboxPending: new Gauge({
    name: 'mauntic_outbox_pending',
    help: 'Outbox rows not yet published, by context',
    labelNames: ['context'] as const,
    registers: [registry],
  }),
  jobs: new Counter({
    name: 'mauntic_jobs_total',
    help: 'Jobs run, by job name and outcome (ok, retried, failed)',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  }),
};
