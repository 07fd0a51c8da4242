// One zod model per provider kind, split into public settings (stored in clear, returned by the
// API) and secret fields (stored encrypted, never returned), and the factory that turns a stored
// configuration into a Provider.
import type { OutboundGuard } from '@mauntic/platform';
import { z } from 'zod';
import { createFcmProvider } from './fcm.ts';
import { createLocalOutboxProvider, type OutboxStore } from './local-outbox.ts';
import { createMailgunProvider } from './mailgun.ts';
import { createPlivoProvider } from './plivo.ts';
import { createPostfixProvider, type PostfixInstance } from './postfix.ts';
import { createSendgridProvider } from './sendgrid.ts';
import { createSesProvider } from './ses.ts';
import { createSmtpProvider } from './smtp.ts';
import { createTwilioProvider } from './twilio.ts';
import {
  CHANNEL_OF,
  type Channel,
  type OutboundMessage,
  type Provider,
  ProviderError,
  type ProviderKind,
  type SendOptions,
  type SendResult,
} from './types.ts';
import { createWebhookProvider } from './webhook.ts';

const httpUrl = z.url({ protocol: /^https?$/ });
const timeoutMs = z.number().int().min(100).max(300_000).optional();
const required = z.string().min(1);

const models = {
  smtp: {
    settings: z.object({
      host: required,
      port: z.number().int().min(1).max(65_535).default(587),
      secure: z.boolean().default(false),
      requireTls: z.boolean().default(false),
      user: z.string().optional(),
      pool: z
        .object({
          maxConnections: z.number().int().min(1).max(200).default(5),
          maxMessages: z.number().int().min(1).default(100_000),
        })
        .prefault({}),
      allowSelfSigned: z.boolean().default(false),
      timeoutMs,
    }),
    secrets: z.object({ pass: z.string().optional() }),
  },
  ses: {
    settings: z.object({
      region: required,
      accessKeyId: required,
      endpoint: httpUrl.optional(),
      configurationSet: z.string().optional(),
      timeoutMs,
      /** SNS topics whose bounce and complaint notifications the webhook accepts. */
      topicArns: z.array(z.string().regex(/^arn:aws[\w-]*:sns:/, 'expected an SNS topic ARN')).optional(),
    }),
    secrets: z.object({ secretAccessKey: required }),
  },
  sendgrid: {
    settings: z.object({
      baseUrl: httpUrl.optional(),
      timeoutMs,
      /** The Event Webhook's verification key (base64 ECDSA public key): signed webhooks only. */
      webhookPublicKey: z.string().min(1).optional(),
    }),
    secrets: z.object({ apiKey: required }),
  },
  mailgun: {
    settings: z.object({ domain: required, url: httpUrl.optional(), timeoutMs }),
    /** webhookSigningKey signs Mailgun's webhooks; older accounts sign them with the API key. */
    secrets: z.object({ apiKey: required, webhookSigningKey: z.string().optional() }),
  },
  local_outbox: {
    settings: z.object({}),
    secrets: z.object({}),
  },
  /** The platform's Postfix instances (DELIVERY_POSTFIX_INSTANCES): nothing to set. */
  postfix: {
    settings: z.object({}),
    secrets: z.object({}),
  },
  twilio: {
    settings: z.object({
      accountSid: required,
      from: z.string().optional(),
      messagingServiceSid: z.string().optional(),
      baseUrl: httpUrl.optional(),
      timeoutMs,
    }),
    secrets: z.object({ authToken: required }),
  },
  plivo: {
    settings: z.object({ authId: required, from: z.string().optional(), baseUrl: httpUrl.optional(), timeoutMs }),
    secrets: z.object({ authToken: required }),
  },
  fcm: {
    settings: z.object({
      projectId: required,
      clientEmail: required,
      /** Origin every FCM and OAuth request goes to instead of Google's (a proxy, a test server). */
      endpoint: httpUrl.optional(),
    }),
    secrets: z.object({ privateKey: required }),
  },
  webhook: {
    settings: z.object({ url: httpUrl.optional(), timeoutMs }),
    secrets: z.object({ secret: z.string().optional() }),
  },
} satisfies Record<ProviderKind, { settings: z.ZodObject; secrets: z.ZodObject }>;

type Models = typeof models;
export type ProviderSettings<K extends ProviderKind> = z.output<Models[K]['settings']>;
export type ProviderSecrets<K extends ProviderKind> = z.output<Models[K]['secrets']>;

export const PROVIDER_KINDS = Object.keys(models) as ProviderKind[];

/** Names of the fields of `kind` that are secret: stored encrypted, never returned by the API. */
export function secretFields(kind: ProviderKind): readonly string[] {
  return Object.keys(models[kind].secrets.shape);
}

export interface ConfigIssue {
  path: string;
  message: string;
}

export type ParsedConfig<K extends ProviderKind> =
  | { ok: true; settings: ProviderSettings<K>; secrets: ProviderSecrets<K> }
  | { ok: false; error: { type: 'invalid_provider_config'; kind: K; issues: ConfigIssue[] } };

/**
 * Validates a configuration as one flat object (what a client submits) and splits it into its
 * public settings and its secrets. Every problem is reported at once. Unknown fields are dropped.
 */
export function parseProviderConfig<K extends ProviderKind>(kind: K, input: Record<string, unknown>): ParsedConfig<K> {
  const model = models[kind];
  const secretNames = new Set(secretFields(kind));
  const settingsInput = Object.fromEntries(Object.entries(input).filter(([name]) => !secretNames.has(name)));
  const secretsInput = Object.fromEntries(Object.entries(input).filter(([name]) => secretNames.has(name)));
  const settings = model.settings.safeParse(settingsInput);
  const secrets = model.secrets.safeParse(secretsInput);
  const issues = [...(settings.error?.issues ?? []), ...(secrets.error?.issues ?? [])].map((issue) => ({
    path: issue.path.join('.'),
    message: issue.message,
  }));
  if (kind === 'twilio' && settings.success) {
    const twilio = settings.data as ProviderSettings<'twilio'>;
    if (!twilio.from && !twilio.messagingServiceSid) {
      issues.push({ path: 'from', message: 'either from or messagingServiceSid is required' });
    }
  }
  if (issues.length > 0 || !settings.success || !secrets.success) {
    return { ok: false, error: { type: 'invalid_provider_config', kind, issues } };
  }
  return {
    ok: true,
    settings: settings.data as ProviderSettings<K>,
    secrets: secrets.data as ProviderSecrets<K>,
  };
}

export class InvalidProviderConfigError extends Error {
  constructor(
    readonly kind: ProviderKind,
    readonly issues: ConfigIssue[],
  ) {
    super(`invalid ${kind} provider configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'InvalidProviderConfigError';
  }
}

export interface ProviderDependencies {
  /** Storage of the embedded mode's outbox; required for `local_outbox`. */
  outboxStore?: OutboxStore;
  /**
   * Where the hosts and URLs of the configuration may lead (OUTBOUND_ALLOWED_HOSTS), checked
   * where the adapter connects, so a name rebound after validation is refused too. Without one,
   * connections are not checked.
   */
  outbound?: OutboundGuard;
  /** The platform's Postfix instances, one per sending IP; required for `postfix`. */
  postfixInstances?: readonly PostfixInstance[];
}

/** Rejects a message for another channel instead of handing it to an adapter that cannot send it. */
function forChannel<M>(channel: Channel, provider: Provider<M>): Provider<OutboundMessage> {
  return {
    kind: provider.kind,
    send(message: OutboundMessage, options?: SendOptions): Promise<SendResult> {
      if (message.channel !== channel) {
        return Promise.reject(
          new ProviderError(`${provider.kind} sends ${channel}, not ${message.channel}`, false, 'wrong_channel'),
        );
      }
      return provider.send(message as M, options);
    },
    close: () => provider.close(),
  };
}

/**
 * Builds the adapter for a stored configuration: `settings` and `secrets` as stored (settings in
 * clear, secrets already decrypted). Throws InvalidProviderConfigError if they do not validate.
 */
export function createProvider(
  kind: ProviderKind,
  settings: Record<string, unknown>,
  secrets: Record<string, unknown>,
  dependencies: ProviderDependencies = {},
): Provider<OutboundMessage> {
  const parsed = parseProviderConfig(kind, { ...settings, ...secrets });
  if (!parsed.ok) throw new InvalidProviderConfigError(kind, parsed.error.issues);
  return forChannel(CHANNEL_OF[kind], build(kind, parsed.settings, parsed.secrets, dependencies));
}

function build(
  kind: ProviderKind,
  settings: ProviderSettings<ProviderKind>,
  secrets: ProviderSecrets<ProviderKind>,
  dependencies: ProviderDependencies,
): Provider<never> {
  const outbound = dependencies.outbound ? { outbound: dependencies.outbound } : {};
  switch (kind) {
    case 'smtp': {
      const s = settings as ProviderSettings<'smtp'>;
      return createSmtpProvider({
        host: s.host,
        port: s.port,
        secure: s.secure,
        requireTls: s.requireTls,
        user: s.user,
        pass: (secrets as ProviderSecrets<'smtp'>).pass,
        maxConnections: s.pool.maxConnections,
        maxMessages: s.pool.maxMessages,
        allowSelfSigned: s.allowSelfSigned,
        timeoutMs: s.timeoutMs,
        ...outbound,
      });
    }
    case 'ses':
      return createSesProvider({
        ...(settings as ProviderSettings<'ses'>),
        ...(secrets as ProviderSecrets<'ses'>),
        ...outbound,
      });
    case 'sendgrid':
      return createSendgridProvider({
        ...(settings as ProviderSettings<'sendgrid'>),
        ...(secrets as ProviderSecrets<'sendgrid'>),
        ...outbound,
      });
    case 'mailgun':
      return createMailgunProvider({
        ...(settings as ProviderSettings<'mailgun'>),
        ...(secrets as ProviderSecrets<'mailgun'>),
        ...outbound,
      });
    case 'local_outbox':
      if (!dependencies.outboxStore) throw new Error('local_outbox needs an outboxStore');
      return createLocalOutboxProvider(dependencies.outboxStore);
    case 'postfix':
      return createPostfixProvider(dependencies.postfixInstances ?? []);
    case 'twilio':
      return createTwilioProvider({
        ...(settings as ProviderSettings<'twilio'>),
        ...(secrets as ProviderSecrets<'twilio'>),
        ...outbound,
      });
    case 'plivo':
      return createPlivoProvider({
        ...(settings as ProviderSettings<'plivo'>),
        ...(secrets as ProviderSecrets<'plivo'>),
        ...outbound,
      });
    case 'fcm':
      return createFcmProvider({
        ...(settings as ProviderSettings<'fcm'>),
        ...(secrets as ProviderSecrets<'fcm'>),
        ...outbound,
      });
    case 'webhook':
      return createWebhookProvider({
        ...(settings as ProviderSettings<'webhook'>),
        ...(secrets as ProviderSecrets<'webhook'>),
        ...outbound,
      });
  }
}
