// The embedded mode's email provider: nothing leaves the machine; each message goes to the outbox
// that the browser page at /outbox reads. The storage belongs to the caller.
import { describe } from './errors.ts';
import { type EmailMessage, type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

export type OutboxStore = (message: EmailMessage) => Promise<void>;

export function createLocalOutboxProvider(store: OutboxStore): Provider<EmailMessage> {
  return {
    kind: 'local_outbox',
    async send(message: EmailMessage, sendOptions?: SendOptions): Promise<SendResult> {
      try {
        sendOptions?.onHandedOver?.();
        await store(message);
      } catch (error) {
        throw new ProviderError(`outbox store failed: ${describe(error)}`, true, 'outbox_unavailable');
      }
      return { providerMessageId: message.messageId };
    },
    async close() {},
  };
}
