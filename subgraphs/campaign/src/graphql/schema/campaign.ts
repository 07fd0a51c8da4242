// Campaign: a broadcast to segments, edited as a draft, launched now or at a time, with its live
// stats by variant; the queries that read campaigns and the mutations that return one.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { LinkStats, VariantStats } from '../../app/campaign-stats.ts';
import type { CampaignRow } from '../../app/campaigns.ts';
import type { Variant } from '../../domain/campaign.ts';
import { CampaignTransitionError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';
import { CampaignChannelEnum, CampaignStatusEnum } from './campaign-status.ts';

const CampaignVariant = builder.objectRef<Variant>('CampaignVariant').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'A to E' }),
    templateId: t.exposeID('templateId'),
  }),
});

const CampaignVariantStats = builder.objectRef<VariantStats>('CampaignVariantStats').implement({
  description: "A variant's figures, from delivery's events, within seconds",
  fields: (t) => ({
    variant: t.exposeString('variant'),
    requested: t.exposeInt('requested', { description: 'Send requests handed to delivery' }),
    sent: t.exposeInt('sent'),
    delivered: t.exposeInt('delivered'),
    openedHuman: t.exposeInt('openedHuman', { description: 'Messages opened by a person (unique)' }),
    openedMachine: t.exposeInt('openedMachine', { description: 'Messages opened by a mail proxy or scanner (unique)' }),
    opens: t.exposeInt('opens', { description: 'Human opens, counting repeats' }),
    clicked: t.exposeInt('clicked', { description: 'Messages with a link clicked by a person (unique)' }),
    clicks: t.exposeInt('clicks', { description: 'Human clicks, counting repeats' }),
    bounced: t.exposeInt('bounced'),
    complained: t.exposeInt('complained'),
    unsubscribed: t.exposeInt('unsubscribed'),
    failed: t.exposeInt('failed', {
      description: 'Not sent: suppressed, do not contact, no address, provider error...',
    }),
  }),
});

const CampaignLinkStats = builder.objectRef<LinkStats>('CampaignLinkStats').implement({
  fields: (t) => ({
    variant: t.exposeString('variant'),
    url: t.exposeString('url'),
    uniqueClicks: t.exposeInt('uniqueClicks'),
    clicks: t.exposeInt('clicks'),
  }),
});

const CampaignThrottle = builder.objectRef<NonNullable<CampaignRow['throttle']>>('CampaignThrottle').implement({
  fields: (t) => ({
    count: t.exposeInt('count'),
    per: t.exposeString('per', { description: 'minute or hour' }),
  }),
});

export const Campaign = builder.objectRef<CampaignRow>('Campaign').implement({
  description: 'A broadcast to segments: a draft until launched, then scheduled, sending, completed or cancelled.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    channel: t.field({ type: CampaignChannelEnum, resolve: (c) => c.channel }),
    status: t.field({ type: CampaignStatusEnum, resolve: (c) => c.status }),
    variants: t.field({ type: [CampaignVariant], resolve: (c) => c.variants }),
    segmentIds: t.idList({ resolve: (c) => c.segmentIds }),
    excludedSegmentIds: t.idList({ resolve: (c) => c.excludedSegmentIds }),
    sendAt: t.expose('sendAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it starts; for a local send time, when the first time zone reaches it',
    }),
    localSendAt: t.exposeString('localSendAt', {
      nullable: true,
      description: "A wall-clock time (2026-03-29T09:00) read in each contact's time zone",
    }),
    timezone: t.exposeString('timezone', { description: 'The zone of contacts without one' }),
    throttle: t.field({ type: CampaignThrottle, nullable: true, resolve: (c) => c.throttle }),
    utm: t.field({ type: 'JSON', nullable: true, resolve: (c) => c.utm }),
    abTest: t.field({
      type: 'JSON',
      nullable: true,
      description: '{ samplePercent | sampleCount, criterion, conversionEvent?, windowMinutes }',
      resolve: (c) => c.abTest,
    }),
    sampleSize: t.exposeInt('sampleSize', { nullable: true, description: "The A/B test's sample, once drawn" }),
    winner: t.exposeString('winner', { nullable: true, description: "The A/B test's winning variant, once chosen" }),
    winnerDecidedAt: t.expose('winnerDecidedAt', { type: 'DateTime', nullable: true }),
    scores: t.field({
      type: 'JSON',
      nullable: true,
      description: "Each variant's score when the winner was chosen, under the test's criterion",
      resolve: (c) => c.scores,
    }),
    recipientCount: t.exposeInt('recipientCount', {
      nullable: true,
      description: 'Contacts chosen when it started (null before)',
    }),
    audienceCount: t.int({
      description: 'Contacts it would reach if it started now (segments minus exclusions, do-not-contact, deleted)',
      resolve: (c, _, ctx) => services(ctx).audienceCount(c),
    }),
    requestedCount: t.exposeInt('requestedCount', { description: 'Recipients handed to delivery so far' }),
    skippedCount: t.exposeInt('skippedCount', {
      description:
        'Recipients passed by: they left the audience (a segment, an exclusion, do-not-contact) before their turn',
    }),
    launchedAt: t.expose('launchedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    stats: t.field({
      type: [CampaignVariantStats],
      description: 'By variant',
      resolve: (c, _, ctx) => services(ctx).campaignStats(c),
    }),
    clickMap: t.field({
      type: [CampaignLinkStats],
      description: 'Each link people clicked, by variant, most clicked first',
      resolve: (c, _, ctx) => services(ctx).clickMap(c),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('campaign', (t) =>
  t.field({
    type: Campaign,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getCampaign(ctx.request, String(id))),
  }),
);

builder.queryField('campaigns', (t) =>
  t.connection(
    {
      type: Campaign,
      args: { status: t.arg({ type: CampaignStatusEnum }) },
      resolve: async (_, args, ctx) =>
        orThrow(
          await services(ctx).listCampaigns(ctx.request, args.status ? { status: args.status } : {}, pageWindow(args)),
        ),
    },
    connectionWithTotalCount('CampaignConnection'),
  ),
);

const VariantInput = builder.inputType('CampaignVariantInput', {
  fields: (f) => ({
    key: f.string({ required: true, description: 'A to E' }),
    templateId: f.id({ required: true }),
  }),
});

const ThrottlePeriod = builder.enumType('CampaignThrottlePeriod', {
  values: { MINUTE: { value: 'minute' }, HOUR: { value: 'hour' } } as const,
});

const ThrottleInput = builder.inputType('CampaignThrottleInput', {
  fields: (f) => ({
    count: f.int({ required: true, description: 'Messages handed to delivery per period at most' }),
    per: f.field({ type: ThrottlePeriod, required: true }),
  }),
});

const UtmInput = builder.inputType('CampaignUtmInput', {
  fields: (f) => ({
    source: f.string(),
    medium: f.string(),
    campaign: f.string(),
    term: f.string(),
    content: f.string(),
  }),
});

const AbCriterion = builder.enumType('CampaignAbCriterion', {
  values: {
    OPENS: { value: 'opens', description: 'Unique human opens' },
    CLICKS: { value: 'clicks', description: 'Unique human clicks' },
    CONVERSIONS: { value: 'conversions', description: 'Contacts who did the conversion event after the send' },
  } as const,
});

const AbTestInput = builder.inputType('CampaignAbTestInput', {
  fields: (f) => ({
    samplePercent: f.int({ description: 'The sample as a share of the audience (1-100); or sampleCount' }),
    sampleCount: f.int({ description: 'The sample as a number of contacts' }),
    criterion: f.field({ type: AbCriterion, required: true }),
    conversionEvent: f.string({ description: 'For CONVERSIONS: the tracked event name that counts' }),
    windowMinutes: f.int({ required: true, description: 'How long after the sample went out the winner is chosen' }),
  }),
});

/** The settings a draft takes, shared by create and update; null clears an optional one. */
const settingFields = (f: PothosInputFieldBuilder) => ({
  variants: f.field({ type: [VariantInput], description: 'One, or 2 to 5 for an A/B test' }),
  segmentIds: f.idList({ description: 'The audience: members of any of these segments' }),
  excludedSegmentIds: f.idList({ description: 'Minus members of any of these' }),
  sendAt: f.field({ type: 'DateTime', description: 'Send at this time; null: when launched' }),
  localSendAt: f.string({
    description: "Send at this wall-clock time (2026-03-29T09:00) in each contact's time zone",
  }),
  timezone: f.string({ description: 'The zone of contacts without one (default UTC)' }),
  throttle: f.field({ type: ThrottleInput }),
  utm: f.field({ type: UtmInput, description: 'UTM parameters added to the links of the message' }),
  abTest: f.field({ type: AbTestInput, description: 'With 2 to 5 variants: the sample and how the winner is chosen' }),
});

type PothosInputFieldBuilder = Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0];

/** The input as the use case takes it: ids as strings, fields not given left out. */
function settingsOf(input: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (key === 'segmentIds' || key === 'excludedSegmentIds')
      out[key] = value === null ? null : (value as unknown[]).map(String);
    else if (key === 'variants')
      out[key] =
        value === null
          ? null
          : (value as { key: string; templateId: unknown }[]).map((v) => ({
              key: v.key,
              templateId: String(v.templateId),
            }));
    else if (key === 'sendAt') out[key] = value instanceof Date ? value.toISOString() : value;
    else if (key === 'id') out[key] = String(value);
    else if (key === 'abTest' && value)
      out[key] = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));
    else out[key] = value;
  }
  return out;
}

builder.mutationField('createCampaign', (t) =>
  t.field({
    type: Campaign,
    description: 'A new draft',
    args: {
      input: t.arg({
        type: builder.inputType('CreateCampaignInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            channel: f.field({ type: CampaignChannelEnum, required: true }),
            ...settingFields(f),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).createCampaign(ctx.request, settingsOf(input) as never)),
  }),
);

builder.mutationField('updateCampaign', (t) =>
  t.field({
    type: Campaign,
    description: 'Changes a draft',
    args: {
      input: t.arg({
        type: builder.inputType('UpdateCampaignInput', {
          fields: (f) => ({ id: f.id({ required: true }), name: f.string(), ...settingFields(f) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, CampaignTransitionError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).updateCampaign(ctx.request, settingsOf(input) as never)),
  }),
);

/** A mutation that takes a campaign's id and returns the campaign. */
function campaignMove(
  name: 'launchCampaign' | 'pauseCampaign' | 'resumeCampaign' | 'cancelCampaign',
  description: string,
) {
  const input = builder.inputType(`${name.charAt(0).toUpperCase()}${name.slice(1)}Input`, {
    fields: (f) => ({ id: f.id({ required: true }) }),
  });
  builder.mutationField(name, (t) =>
    t.field({
      type: Campaign,
      description,
      args: { input: t.arg({ type: input, required: true }) },
      errors: { types: [...COMMON_ERRORS, NotFoundError, CampaignTransitionError] },
      resolve: async (_, args, ctx) => unwrap(await services(ctx)[name](ctx.request, { id: String(args.input.id) })),
    }),
  );
}

campaignMove(
  'launchCampaign',
  'Starts a draft now, or at its send time: its recipients are chosen once, then handed to delivery',
);
campaignMove('pauseCampaign', 'No further send request goes out until resumed');
campaignMove('resumeCampaign', 'Goes on from where it stopped');
campaignMove('cancelCampaign', 'Stops it for good: recipients not handed over yet get nothing');

builder.mutationField('chooseCampaignWinner', (t) =>
  t.field({
    type: Campaign,
    description: "Picks an A/B test's winner by hand (before its window passed): the rest of the audience gets it",
    args: {
      input: t.arg({
        type: builder.inputType('ChooseCampaignWinnerInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            variant: f.string({ required: true, description: 'A to E' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, CampaignTransitionError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).chooseWinner(ctx.request, { id: String(input.id), variant: input.variant as never })),
  }),
);

builder.mutationField('sendCampaignTest', (t) =>
  t.field({
    type: Campaign,
    description: 'Sends each variant to up to 10 chosen addresses, in any status; counted in no stats',
    args: {
      input: t.arg({
        type: builder.inputType('SendCampaignTestInput', {
          fields: (f) => ({ id: f.id({ required: true }), addresses: f.stringList({ required: true }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).sendCampaignTest(ctx.request, { id: String(input.id), addresses: input.addresses })),
  }),
);
