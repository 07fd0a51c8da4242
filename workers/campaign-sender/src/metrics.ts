// The sender's figures at /metrics: send requests handed to delivery.
import { registry } from '@mauntic/platform';
import { Counter } from 'prom-client';

const requested = new Counter({
  name: 'mauntic_campaign_requests_total',
  help: 'Campaign send requests handed to delivery (written to the campaign outbox)',
  registers: [registry],
});

export const countBatch = (n: number) => requested.inc(n);
