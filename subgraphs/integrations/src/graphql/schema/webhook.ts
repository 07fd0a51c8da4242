// Outbound webhooks: endpoints subscribed to event types, their signing secrets (shown once) and
// the delivery log with replays.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { WebhookAttemptRow, WebhookDeliveryRow } from '../../app/webhook-deliveries.ts';
import { DELIVERY_STATUSES } from '../../app/webhook-deliveries.ts';
import type { WebhookEndpointRow, WebhookEndpointWithSecret } from '../../app/webhook-endpoints.ts';
import {
  WebhookEndpointDisabledError,
  WebhookEndpointLimitError,
  WebhookUrlRefusedError,
} from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';

export const WebhookEndpoint = builder.objectRef<WebhookEndpointRow>('WebhookEndpoint').implement({
  description:
    "A URL that receives the organization's events of the subscribed types, each POST signed in the " +
    '`Mauntic-Signature` header (t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>).',
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    description: t.exposeString('description'),
    eventTypes: t.exposeStringList('eventTypes', { description: 'Catalogued event types, e.g. crm.contact.created' }),
    segmentIds: t.exposeIDList('segmentIds', { description: 'When set, events naming another segment are left out' }),
    templateIds: t.exposeIDList('templateIds', {
      description: 'When set, events naming another template are left out',
    }),
    enabled: t.exposeBoolean('enabled'),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    secretPrefix: t.exposeString('secretPrefix', { description: "The signing secret's first characters" }),
    previousSecretExpiresAt: t.expose('previousSecretExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Until then, deliveries also carry a signature with the secret before the last rotation',
    }),
    maxConcurrency: t.exposeInt('maxConcurrency', { description: 'Deliveries to it in flight at once' }),
    consecutiveFailures: t.exposeInt('consecutiveFailures'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const WebhookEndpointWithSecretRef = builder
  .objectRef<WebhookEndpointWithSecret>('WebhookEndpointWithSecret')
  .implement({
    description: 'An endpoint and its signing secret, shown this once: it is kept sealed.',
    fields: (t) => ({
      endpoint: t.field({ type: WebhookEndpoint, resolve: (e) => e }),
      secret: t.exposeString('secret', { description: 'whsec_...: the HMAC-SHA256 key of the v1 signatures' }),
    }),
  });

const WebhookDeliveryStatus = builder.enumType('WebhookDeliveryStatus', {
  values: DELIVERY_STATUSES.map((s) => s.toUpperCase()),
  description: 'PENDING: to be tried (again); SUCCEEDED: answered 2xx; FAILED: given up (3 days of retries, or 410)',
});

const WebhookAttempt = builder.objectRef<WebhookAttemptRow>('WebhookAttempt').implement({
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'null: no answer (see error)' }),
    latencyMs: t.exposeInt('latencyMs'),
    response: t.exposeString('response', { description: "The response body's first KB" }),
    error: t.exposeString('error', { nullable: true }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
  }),
});

const WebhookDelivery = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  description: 'One event for one endpoint, with every attempt to send it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    endpointId: t.exposeID('endpointId'),
    eventId: t.exposeID('eventId', { description: 'The id in the body: receivers deduplicate by it' }),
    eventType: t.exposeString('eventType'),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    status: t.field({ type: WebhookDeliveryStatus, resolve: (d) => d.status.toUpperCase() as never }),
    attempts: t.exposeInt('attempts'),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    payload: t.field({ type: 'JSON', description: 'The body as sent', resolve: (d) => JSON.parse(d.body) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    log: t.field({
      type: [WebhookAttempt],
      description: 'Every attempt, oldest first',
      resolve: (d, _, ctx) => services(ctx).webhookAttempts(d),
    }),
  }),
});

const ReplayedDeliveries = builder.objectRef<{ count: number }>('ReplayedWebhookDeliveries').implement({
  fields: (t) => ({ count: t.exposeInt('count', { description: 'Deliveries due again now' }) }),
});

builder.queryField('webhookEndpoint', (t) =>
  t.field({
    type: WebhookEndpoint,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getWebhookEndpoint(ctx.request, String(id))),
  }),
);

builder.queryField('webhookEndpoints', (t) =>
  t.connection(
    {
      type: WebhookEndpoint,
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listWebhookEndpoints(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('WebhookEndpointConnection'),
  ),
);

builder.queryField('webhookDeliveries', (t) =>
  t.connection(
    {
      type: WebhookDelivery,
      description: "An endpoint's deliveries, newest first",
      args: {
        endpointId: t.arg.id({ required: true }),
        status: t.arg({ type: WebhookDeliveryStatus }),
        eventType: t.arg.string(),
      },
      resolve: async (_, args, ctx) =>
        orThrow(
          await services(ctx).listWebhookDeliveries(
            ctx.request,
            {
              endpointId: String(args.endpointId),
              ...(args.status ? { status: String(args.status).toLowerCase() as never } : {}),
              ...(args.eventType ? { eventType: args.eventType } : {}),
            },
            pageWindow(args),
          ),
        ),
    },
    connectionWithTotalCount('WebhookDeliveryConnection'),
  ),
);

builder.mutationField('createWebhookEndpoint', (t) =>
  t.field({
    type: WebhookEndpointWithSecretRef,
    description: 'A new endpoint and its signing secret, shown this once (integrations:admin)',
    args: {
      input: t.arg({
        type: builder.inputType('CreateWebhookEndpointInput', {
          fields: (f) => ({
            url: f.string({ required: true }),
            description: f.string(),
            eventTypes: f.stringList({ required: true }),
            segmentIds: f.idList(),
            templateIds: f.idList(),
            maxConcurrency: f.int(),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, WebhookUrlRefusedError, WebhookEndpointLimitError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createWebhookEndpoint(ctx.request, {
          url: input.url,
          eventTypes: input.eventTypes,
          ...(input.description != null ? { description: input.description } : {}),
          ...(input.segmentIds ? { segmentIds: input.segmentIds.map(String) } : {}),
          ...(input.templateIds ? { templateIds: input.templateIds.map(String) } : {}),
          ...(input.maxConcurrency != null ? { maxConcurrency: input.maxConcurrency } : {}),
        }),
      ),
  }),
);

builder.mutationField('updateWebhookEndpoint', (t) =>
  t.field({
    type: WebhookEndpoint,
    description: 'Changes the fields given (integrations:admin)',
    args: {
      input: t.arg({
        type: builder.inputType('UpdateWebhookEndpointInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            url: f.string(),
            description: f.string(),
            eventTypes: f.stringList(),
            segmentIds: f.idList(),
            templateIds: f.idList(),
            maxConcurrency: f.int(),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, WebhookUrlRefusedError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).updateWebhookEndpoint(ctx.request, {
          id: String(input.id),
          ...(input.url != null ? { url: input.url } : {}),
          ...(input.description != null ? { description: input.description } : {}),
          ...(input.eventTypes ? { eventTypes: input.eventTypes } : {}),
          ...(input.segmentIds ? { segmentIds: input.segmentIds.map(String) } : {}),
          ...(input.templateIds ? { templateIds: input.templateIds.map(String) } : {}),
          ...(input.maxConcurrency != null ? { maxConcurrency: input.maxConcurrency } : {}),
        }),
      ),
  }),
);

const EndpointIdInput = (name: string) =>
  builder.inputType(name, { fields: (f) => ({ id: f.id({ required: true }) }) });

const byId = (name: string, description: string, run: 'deleteWebhookEndpoint' | 'enableWebhookEndpoint') =>
  builder.mutationField(name, (t) =>
    t.field({
      type: WebhookEndpoint,
      description,
      args: {
        input: t.arg({ type: EndpointIdInput(`${name[0]!.toUpperCase()}${name.slice(1)}Input`), required: true }),
      },
      errors: { types: [...COMMON_ERRORS, NotFoundError] },
      resolve: async (_, { input }, ctx) => unwrap(await services(ctx)[run](ctx.request, { id: String(input.id) })),
    }),
  );

byId(
  'deleteWebhookEndpoint',
  'Deletes the endpoint and its delivery log (integrations:admin)',
  'deleteWebhookEndpoint',
);

builder.mutationField('rotateWebhookSecret', (t) =>
  t.field({
    type: WebhookEndpointWithSecretRef,
    description:
      'A new signing secret, shown this once; the previous one keeps signing beside it for 24 hours (integrations:admin)',
    args: { input: t.arg({ type: EndpointIdInput('RotateWebhookSecretInput'), required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).rotateWebhookSecret(ctx.request, { id: String(input.id) })),
  }),
);

byId(
  'enableWebhookEndpoint',
  'Enables the endpoint: its pending deliveries go out, its failure count starts over (integrations:admin)',
  'enableWebhookEndpoint',
);

builder.mutationField('disableWebhookEndpoint', (t) =>
  t.field({
    type: WebhookEndpoint,
    description: 'Disables the endpoint: no new event is recorded for it, pending ones wait (integrations:admin)',
    args: {
      input: t.arg({
        type: builder.inputType('DisableWebhookEndpointInput', {
          fields: (f) => ({ id: f.id({ required: true }), reason: f.string() }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).disableWebhookEndpoint(ctx.request, {
          id: String(input.id),
          ...(input.reason != null ? { reason: input.reason } : {}),
        }),
      ),
  }),
);

builder.mutationField('replayWebhookDelivery', (t) =>
  t.field({
    type: WebhookDelivery,
    description: 'Sends the delivery again now, with 3 more days of retries (integrations:admin)',
    args: { input: t.arg({ type: EndpointIdInput('ReplayWebhookDeliveryInput'), required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError, WebhookEndpointDisabledError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).replayWebhookDelivery(ctx.request, { id: String(input.id) })),
  }),
);

builder.mutationField('replayWebhookDeliveries', (t) =>
  t.field({
    type: ReplayedDeliveries,
    description:
      'Sends again every delivery to the endpoint of an event that occurred between from and to (inclusive) ' +
      '(integrations:admin)',
    args: {
      input: t.arg({
        type: builder.inputType('ReplayWebhookDeliveriesInput', {
          fields: (f) => ({
            endpointId: f.id({ required: true }),
            from: f.field({ type: 'DateTime', required: true }),
            to: f.field({ type: 'DateTime', required: true }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, WebhookEndpointDisabledError] },
    resolve: async (_, { input }, ctx) => ({
      count: unwrap(
        await services(ctx).replayWebhookDeliveries(ctx.request, {
          endpointId: String(input.endpointId),
          from: input.from as Date,
          to: input.to as Date,
        }),
      ),
    }),
  }),
);
