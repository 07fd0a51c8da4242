// Email through the platform's own Postfix, one instance per sending IP (mail-stack/, the chart's
// StatefulSet): each message goes to the instance that sends from the IP its pool chose, over
// pipelined SMTP as the SMTP adapter does. The instances are the operator's
// (DELIVERY_POSTFIX_INSTANCES), not the organization's: a POSTFIX provider has no settings.
import { createSmtpProvider } from './smtp.ts';
import { type EmailMessage, type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

export interface PostfixInstance {
  /** The sending IP the instance binds (its smtp_bind_address). */
  ip: string;
  host: string;
  port: number;
}

export function createPostfixProvider(instances: readonly PostfixInstance[]): Provider<EmailMessage> {
  const relays = new Map<PostfixInstance, Provider<EmailMessage>>();
  const relayOf = (instance: PostfixInstance) => {
    let relay = relays.get(instance);
    if (!relay) {
      // The instances are the platform's own, on its private network: no outbound guard.
      relay = createSmtpProvider({ host: instance.host, port: instance.port, secure: false, maxConnections: 10 });
      relays.set(instance, relay);
    }
    return relay;
  };
  return {
    kind: 'postfix',
    async send(message: EmailMessage, options?: SendOptions): Promise<SendResult> {
      // Without a pool the first instance sends; with one, the instance of the chosen IP (the
      // instance binds the IP itself, so the connection to it binds nothing).
      const { localAddress, ...rest } = message;
      const instance = localAddress ? instances.find((i) => i.ip === localAddress) : instances[0];
      if (!instance)
        throw new ProviderError(
          localAddress
            ? `no Postfix instance sends from ${localAddress} (DELIVERY_POSTFIX_INSTANCES)`
            : 'the platform has no Postfix instance (DELIVERY_POSTFIX_INSTANCES)',
          true,
          'no_postfix_instance',
        );
      return relayOf(instance).send(rest, options);
    },
    close: async () => {
      await Promise.all([...relays.values()].map((relay) => relay.close()));
    },
  };
}

/** `ip=host:port` entries, as DELIVERY_POSTFIX_INSTANCES has them. */
export const POSTFIX_INSTANCE = /^([0-9a-fA-F:.]+)=([^=:\s]+):(\d{1,5})$/;

export function parsePostfixInstance(entry: string): PostfixInstance {
  const [, ip, host, port] = POSTFIX_INSTANCE.exec(entry)!;
  return { ip: ip!, host: host!, port: Number(port) };
}
