// Sending domains: the records to publish, their last DNS check, the DKIM keys' states, and the
// mutations that add, verify, rotate and delete.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { SendingDomainView } from '../../app/sending-domains.ts';
import { SendingDomainTakenError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';

const StatusEnum = builder.enumType('SendingDomainStatus', {
  values: {
    PENDING: { description: 'Its records have never all been found' },
    VERIFIED: { description: 'Every record was found at the last check' },
    FAILING: { description: 'Verified before, a record is missing now: marketing email is refused' },
  } as const,
});
const RecordKindEnum = builder.enumType('DnsRecordKind', {
  values: ['DKIM', 'SPF', 'DMARC', 'RETURN_PATH', 'PTR'] as const,
});

type RecordView = SendingDomainView['records'][number];
type KeyView = SendingDomainView['keys'][number];

const DnsRecord = builder.objectRef<RecordView>('DnsRecord').implement({
  description: 'A record to publish in DNS, and what the last check found.',
  fields: (t) => ({
    kind: t.field({ type: RecordKindEnum, resolve: (r) => r.kind.toUpperCase() as never }),
    type: t.exposeString('type', { description: 'TXT, MX or PTR' }),
    name: t.exposeString('name'),
    value: t.exposeString('value'),
    verified: t.boolean({
      nullable: true,
      description: 'Null before the first check',
      resolve: (r) => r.check?.ok ?? null,
    }),
    found: t.stringList({ description: 'What DNS answered at the last check', resolve: (r) => r.check?.found ?? [] }),
  }),
});

const DkimKey = builder.objectRef<KeyView>('DkimKey').implement({
  description: 'A DKIM key of a sending domain (the private half is sealed and never returned).',
  fields: (t) => ({
    selector: t.exposeString('selector'),
    algorithm: t.exposeString('algorithm', { description: 'rsa-sha256 or ed25519-sha256' }),
    status: t.exposeString('status', {
      description: 'pending (published, not signing yet), active (signing), retiring (published until retireAt)',
    }),
    generation: t.exposeInt('generation'),
    retireAt: t.expose('retireAt', { type: 'DateTime', nullable: true }),
  }),
});

export const SendingDomain = builder.objectRef<SendingDomainView>('SendingDomain').implement({
  description: 'A domain email is sent from, signed with its DKIM keys, bounces returning to its return path domain.',
  fields: (t) => ({
    id: t.exposeID('id'),
    domain: t.exposeString('domain'),
    returnPathDomain: t.exposeString('returnPathDomain'),
    status: t.field({ type: StatusEnum, resolve: (d) => d.status.toUpperCase() as never }),
    records: t.field({ type: [DnsRecord], resolve: (d) => d.records }),
    dkimKeys: t.field({ type: [DkimKey], resolve: (d) => d.keys }),
    ipPoolId: t.exposeID('ipPoolId', {
      nullable: true,
      description: "The IP pool its email leaves from; null: the organization's default pool",
    }),
    reputation: t.exposeFloat('reputation', {
      description: 'From 100 down: decayed penalties for deferrals, sender-caused bounces and complaints',
    }),
    checkedAt: t.expose('checkedAt', { type: 'DateTime', nullable: true }),
    verifiedAt: t.expose('verifiedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('sendingDomains', (t) =>
  t.field({
    type: [SendingDomain],
    resolve: async (_, _args, ctx) => orThrow(await services(ctx).listSendingDomains(ctx.request)),
  }),
);

builder.queryField('sendingDomain', (t) =>
  t.field({
    type: SendingDomain,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getSendingDomain(ctx.request, { id: String(id) })),
  }),
);

const AddSendingDomainInput = builder.inputType('AddSendingDomainInput', {
  fields: (t) => ({
    domain: t.string({ required: true }),
    returnPathDomain: t.string({ description: 'Where bounces return; bounces.<domain> when not given' }),
  }),
});

builder.mutationField('addSendingDomain', (t) =>
  t.field({
    type: SendingDomain,
    description: 'Adds a domain with a fresh RSA-2048 and Ed25519 DKIM key; publish its records, then verify it.',
    args: { input: t.arg({ type: AddSendingDomainInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, SendingDomainTakenError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).addSendingDomain(ctx.request, {
          domain: input.domain,
          ...(input.returnPathDomain ? { returnPathDomain: input.returnPathDomain } : {}),
        }),
      ),
  }),
);

for (const [field, description, run] of [
  ['verifySendingDomain', 'Checks every record in DNS now (it is also checked daily).', 'verifySendingDomain'],
  [
    'rotateDkimKeys',
    'Adds the next pair of keys: published at once, signing once their records verify; the old pair stays published for a week.',
    'rotateDkimKeys',
  ],
  ['deleteSendingDomain', 'Removes the domain and its keys.', 'deleteSendingDomain'],
] as const) {
  builder.mutationField(field, (t) =>
    t.field({
      type: SendingDomain,
      description,
      args: { id: t.arg.id({ required: true }) },
      errors: { types: [...COMMON_ERRORS, NotFoundError] },
      resolve: async (_, { id }, ctx) => unwrap(await services(ctx)[run](ctx.request, { id: String(id) })),
    }),
  );
}
