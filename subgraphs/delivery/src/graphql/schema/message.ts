import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import { MESSAGE_STATUSES } from '../../app/messages.ts';
import type { MessageRow } from '../../app/send.ts';
import { IdempotencyConflictError, UnverifiedSendingDomainError } from '../../domain/errors.ts';
import { tenantVisibleError } from '../../domain/provider-failure.ts';
import { builder, services } from '../builder.ts';
import { ChannelEnum } from './channel.ts';
import { ContactRef } from './contact.ts';

const StatusEnum = builder.enumType('MessageStatus', {
  values: MESSAGE_STATUSES.map((s) => s.toUpperCase()) as Uppercase<(typeof MESSAGE_STATUSES)[number]>[],
});
export const SourceKindEnum = builder.enumType('MessageSourceKind', {
  values: ['TRANSACTIONAL', 'CAMPAIGN', 'JOURNEY'] as const,
});

const MessageSource = builder.objectRef<MessageRow>('MessageSource').implement({
  fields: (t) => ({
    kind: t.field({ type: SourceKindEnum, resolve: (m) => m.sourceKind.toUpperCase() as never }),
    id: t.exposeString('sourceId', { nullable: true, description: 'Campaign id or journey run id' }),
    stepId: t.exposeString('sourceStepId', { nullable: true }),
  }),
});

export const Message = builder.objectRef<MessageRow>('Message').implement({
  description: 'One message to one recipient, and what became of it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    channel: t.field({ type: ChannelEnum, resolve: (m) => m.channel.toUpperCase() as never }),
    status: t.field({ type: StatusEnum, resolve: (m) => m.status.toUpperCase() as never }),
    address: t.exposeString('address', { description: 'Email, E.164 phone, device token or URL' }),
    contact: t.field({ type: ContactRef, nullable: true, resolve: (m) => (m.contactId ? { id: m.contactId } : null) }),
    templateId: t.exposeID('templateId', { nullable: true }),
    idempotencyKey: t.exposeString('idempotencyKey'),
    source: t.field({ type: MessageSource, resolve: (m) => m }),
    error: t.string({
      nullable: true,
      description: 'Why it failed or was skipped',
      resolve: (m) => tenantVisibleError(m.error),
    }),
    attempts: t.exposeInt('attempts'),
    providerMessageId: t.exposeString('providerMessageId', { nullable: true }),
    unconfirmed: t.exposeBoolean('unconfirmed', {
      description: 'The engine stopped after handing the message over and before the reply; counted as sent',
    }),
    opens: t.exposeInt('opens', { description: 'Opens by people (machine opens are apart)' }),
    clicks: t.exposeInt('clicks'),
    machineOpens: t.exposeInt('machineOpens', { description: 'Apple Mail Privacy Protection and image proxies' }),
    machineClicks: t.exposeInt('machineClicks', { description: 'Link scanners' }),
    queuedAt: t.expose('queuedAt', { type: 'DateTime' }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    openedAt: t.expose('openedAt', { type: 'DateTime', nullable: true }),
    clickedAt: t.expose('clickedAt', { type: 'DateTime', nullable: true }),
    bouncedAt: t.expose('bouncedAt', { type: 'DateTime', nullable: true }),
    bounceReason: t.exposeString('bounceReason', {
      nullable: true,
      description:
        'Why its last bounce came back: user_unknown, mailbox_disabled, host_unknown (the address is dead and suppressed); policy_authentication, blocklisted_reputation, rate_limited, sender_rejected, relaying_denied, content_spam_virus, message_too_large (caused by the sender); mailbox_full, expired, network, system_error, filtered, unknown',
    }),
    complainedAt: t.expose('complainedAt', { type: 'DateTime', nullable: true }),
    failedAt: t.expose('failedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const SendInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    templateId: t.id({ required: true }),
    contactId: t.id({ description: 'The recipient as a CRM contact; or give `to`' }),
    to: t.string({ description: 'A bare address: email, E.164 phone or device token' }),
    context: t.field({ type: 'JSON', description: 'Per-send variables, `{{context.x}}` in the template' }),
    idempotencyKey: t.string({ required: true, description: 'A repeated key returns the first message' }),
  }),
});

export const sendArgs = (input: {
  templateId: string | number;
  contactId?: string | number | null;
  to?: string | null;
  context?: unknown;
  idempotencyKey: string;
}) => ({
  templateId: String(input.templateId),
  ...(input.contactId ? { contactId: String(input.contactId) } : {}),
  ...(input.to ? { to: input.to } : {}),
  context: (input.context ?? {}) as Record<string, unknown>,
  idempotencyKey: input.idempotencyKey,
});

for (const [field, channel] of [
  ['sendEmail', 'email'],
  ['sendSms', 'sms'],
] as const) {
  builder.mutationField(field, (t) =>
    t.field({
      type: Message,
      description: `Queues one ${channel} message; sending it twice with one idempotency key sends it once.`,
      args: { input: t.arg({ type: SendInput, required: true }) },
      errors: { types: [...COMMON_ERRORS, NotFoundError, IdempotencyConflictError, UnverifiedSendingDomainError] },
      resolve: async (_, { input }, ctx) =>
        unwrap(await services(ctx).sendMessage(ctx.request, channel, sendArgs(input))),
    }),
  );
}

builder.queryField('message', (t) =>
  t.field({
    type: Message,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getMessage(ctx.request, String(id))),
  }),
);

const MessageFilter = builder.inputType('MessageFilter', {
  fields: (t) => ({
    status: t.field({ type: StatusEnum }),
    channel: t.field({ type: ChannelEnum }),
    templateId: t.id(),
    contactId: t.id(),
    sourceKind: t.field({ type: SourceKindEnum }),
    sourceId: t.string(),
    address: t.string(),
  }),
});

builder.queryField('messages', (t) =>
  t.connection(
    {
      type: Message,
      args: { filter: t.arg({ type: MessageFilter }) },
      resolve: async (_, args, ctx) => {
        const f = args.filter ?? {};
        return orThrow(
          await services(ctx).listMessages(
            ctx.request,
            {
              status: f.status?.toLowerCase() ?? null,
              channel: f.channel?.toLowerCase() ?? null,
              templateId: f.templateId ? String(f.templateId) : null,
              contactId: f.contactId ? String(f.contactId) : null,
              sourceKind: f.sourceKind?.toLowerCase() ?? null,
              sourceId: f.sourceId ?? null,
              address: f.address ?? null,
            },
            pageWindow(args),
          ),
        );
      },
    },
    connectionWithTotalCount('MessageConnection'),
  ),
);
