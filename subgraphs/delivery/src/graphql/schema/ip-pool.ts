// IP pools: the organization's sending IPs with their weights, warm-up curves and reputation, and
// the mutations that create, change and delete pools, add and remove IPs, and assign a pool to a
// sending domain.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { IpPoolView, PoolIpView } from '../../app/ip-pools.ts';
import { IpPoolNameTakenError, SendingIpNotAllowedError, SendingIpTakenError } from '../../domain/errors.ts';
import type { WarmupSchedule as Schedule } from '../../domain/warmup.ts';
import { builder, services } from '../builder.ts';
import { SendingDomain } from './sending-domain.ts';

const StateEnum = builder.enumType('SendingIpState', {
  values: {
    ACTIVE: { description: 'Sends within its warm-up caps' },
    THROTTLED: { description: 'Its reputation fell: its caps and weight shrink with its score' },
    PAUSED: { description: 'Its reputation fell past the threshold: its messages go to the pool’s other IPs' },
  } as const,
});

const WarmupSchedule = builder.objectRef<Schedule>('WarmupSchedule').implement({
  description: 'Messages a day to each mailbox-provider group (Gmail, Microsoft, Yahoo, others) while an IP warms up.',
  fields: (t) => ({
    daily: t.exposeIntList('daily', { description: 'The first days, day 1 on the start date' }),
    growth: t.exposeFloat('growth', { description: 'After those days, each day this times the day before' }),
    hourlyShare: t.exposeFloat('hourlyShare', { description: 'The share of a day one hour may take' }),
  }),
});

const cap = (n: number) => (Number.isFinite(n) ? n : null);

const PoolIp = builder.objectRef<PoolIpView>('PoolIp').implement({
  description: 'A sending IP of a pool.',
  fields: (t) => ({
    ip: t.exposeString('ip'),
    weight: t.exposeInt('weight', { description: 'Its share of the pool’s messages, against the other IPs’ weights' }),
    warmup: t.field({
      type: WarmupSchedule,
      nullable: true,
      description: 'Null: a warm IP, no caps',
      resolve: (i) => i.warmup,
    }),
    warmupStartedOn: t.exposeString('warmupStartedOn', { nullable: true, description: 'Day 1 of its curve (UTC)' }),
    dailyCap: t.int({
      nullable: true,
      description: 'Messages it may send today to each provider group (null: no cap)',
      resolve: (i) => cap(i.caps.day),
    }),
    hourlyCap: t.int({
      nullable: true,
      description: 'Messages it may send this hour to each provider group (null: no cap)',
      resolve: (i) => cap(i.caps.hour),
    }),
    reputation: t.exposeFloat('reputation', {
      description: 'From 100 down: decayed penalties for deferrals, sender-caused bounces and complaints',
    }),
    state: t.field({ type: StateEnum, resolve: (i) => i.state.toUpperCase() as never }),
  }),
});

const IpPool = builder.objectRef<IpPoolView>('IpPool').implement({
  description:
    'Sending IPs a sending domain’s email leaves from, each message picking one by weight within its warm-up.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    isDefault: t.exposeBoolean('isDefault', {
      description: 'Email from a domain assigned no pool leaves from this one',
    }),
    ips: t.field({ type: [PoolIp], resolve: (p) => p.ips }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('ipPools', (t) =>
  t.field({
    type: [IpPool],
    resolve: async (_, _args, ctx) => orThrow(await services(ctx).listIpPools(ctx.request)),
  }),
);

builder.queryField('ipPool', (t) =>
  t.field({
    type: IpPool,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getIpPool(ctx.request, { id: String(id) })),
  }),
);

builder.mutationField('createIpPool', (t) =>
  t.field({
    type: IpPool,
    args: {
      input: t.arg({
        type: builder.inputType('CreateIpPoolInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            isDefault: f.boolean({ description: 'The pool of email whose sending domain is assigned none' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, IpPoolNameTakenError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createIpPool(ctx.request, {
          name: input.name,
          ...(input.isDefault != null ? { isDefault: input.isDefault } : {}),
        }),
      ),
  }),
);

builder.mutationField('updateIpPool', (t) =>
  t.field({
    type: IpPool,
    args: {
      input: t.arg({
        type: builder.inputType('UpdateIpPoolInput', {
          fields: (f) => ({ id: f.id({ required: true }), name: f.string(), isDefault: f.boolean() }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, IpPoolNameTakenError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).updateIpPool(ctx.request, {
          id: String(input.id),
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.isDefault != null ? { isDefault: input.isDefault } : {}),
        }),
      ),
  }),
);

builder.mutationField('deleteIpPool', (t) =>
  t.field({
    type: IpPool,
    description: 'Removes the pool and its IPs; its sending domains fall back to the default pool.',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { id }, ctx) => unwrap(await services(ctx).deleteIpPool(ctx.request, { id: String(id) })),
  }),
);

const WarmupScheduleInput = builder.inputType('WarmupScheduleInput', {
  fields: (f) => ({
    daily: f.intList({ required: true, description: 'Messages a day per provider group on the first days' }),
    growth: f.float({ required: true, description: 'Each later day, this times the day before' }),
    hourlyShare: f.float({ required: true, description: 'The share of a day one hour may take' }),
  }),
});

builder.mutationField('addPoolIp', (t) =>
  t.field({
    type: IpPool,
    description: 'Adds a sending IP to a pool, or changes its weight and warm-up when it is in the pool already.',
    args: {
      input: t.arg({
        type: builder.inputType('AddPoolIpInput', {
          fields: (f) => ({
            ipPoolId: f.id({ required: true }),
            ip: f.string({ required: true }),
            weight: f.int({ description: '1 when new' }),
            warmupStartedOn: f.string({ description: 'Day 1 of its warm-up (YYYY-MM-DD, UTC); today when new' }),
            warmup: f.field({
              type: WarmupScheduleInput,
              description: 'The warm-up curve: 1,000 → 10,000 a day over 7 days, then ×1.3 a day, when new',
            }),
            warm: f.boolean({ description: 'True: the IP is warm already, no warm-up caps' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, SendingIpTakenError, SendingIpNotAllowedError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).addPoolIp(ctx.request, {
          poolId: String(input.ipPoolId),
          ip: input.ip,
          ...(input.weight != null ? { weight: input.weight } : {}),
          ...(input.warmupStartedOn != null ? { warmupStartedOn: input.warmupStartedOn } : {}),
          ...(input.warm ? { warmup: null } : input.warmup ? { warmup: input.warmup } : {}),
        }),
      ),
  }),
);

builder.mutationField('removePoolIp', (t) =>
  t.field({
    type: IpPool,
    args: {
      input: t.arg({
        type: builder.inputType('RemovePoolIpInput', {
          fields: (f) => ({ ipPoolId: f.id({ required: true }), ip: f.string({ required: true }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).removePoolIp(ctx.request, { poolId: String(input.ipPoolId), ip: input.ip })),
  }),
);

builder.mutationField('assignIpPool', (t) =>
  t.field({
    type: SendingDomain,
    description: "Sets the pool a sending domain's email leaves from; a null pool: the organization's default pool.",
    args: {
      input: t.arg({
        type: builder.inputType('AssignIpPoolInput', {
          fields: (f) => ({
            sendingDomainId: f.id({ required: true }),
            ipPoolId: f.id({ description: "null: the organization's default pool" }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).assignIpPool(ctx.request, {
          sendingDomainId: String(input.sendingDomainId),
          poolId: input.ipPoolId ? String(input.ipPoolId) : null,
        }),
      ),
  }),
);
