// Failover between two providers of one channel: transient faults of the primary (timeouts, 4xx
// SMTP replies, HTTP 429/5xx, account problems) send through the secondary instead. A permanent
// rejection of the recipient is the recipient's problem and would be rejected again: it is not
// failed over.
import { type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

export function withFailover<M>(primary: Provider<M>, secondary: Provider<M>): Provider<M> {
  return {
    kind: primary.kind,
    async send(message: M, options?: SendOptions): Promise<SendResult> {
      // Both providers may report the hand-over; the caller hears of it once.
      let handedOver = false;
      const once: SendOptions = {
        onHandedOver() {
          if (handedOver) return;
          handedOver = true;
          options?.onHandedOver?.();
        },
      };
      try {
        return await primary.send(message, once);
      } catch (error) {
        if (!(error instanceof ProviderError) || !error.retryable) throw error;
        try {
          const result = await secondary.send(message, once);
          return { ...result, failedOver: true };
        } catch (secondaryError) {
          if (secondaryError instanceof ProviderError) {
            // Retryable only if trying both again later can help.
            throw new ProviderError(
              `primary ${primary.kind}: ${error.message}; secondary ${secondary.kind}: ${secondaryError.message}`,
              secondaryError.retryable,
              secondaryError.code,
            );
          }
          throw secondaryError;
        }
      }
    },
    async close() {
      await Promise.all([primary.close(), secondary.close()]);
    },
  };
}
