// The inbound SMTP endpoint wired to delivery: every DSN or ARF report it accepts is applied
// (suppression, status, events) before the sender gets its 250; a failure answers 451.
import type { DeliveryServices } from '../app/services.ts';
import { type InboundServer, startInboundServer } from './inbound-server.ts';

export function startFeedbackEndpoint(
  services: DeliveryServices,
  options: { port: number; host?: string; lmtp?: boolean; domains?: string[] },
): Promise<InboundServer> {
  return startInboundServer({
    ...options,
    logger: services.deps.logger,
    onFeedback: async (feedback) => {
      for (const item of feedback) await services.applyFeedback(item, { source: 'inbound-smtp' });
    },
  });
}
