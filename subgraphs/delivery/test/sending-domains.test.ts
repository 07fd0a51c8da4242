// Sending domains through the GraphQL schema: the records to publish, verification against the
// real DNS server (NSD from scripts/services.sh), the typed refusal of marketing email from an
// unverified domain, key rotation with overlap, and the daily re-check that notices a record gone.
import { randomBytes } from 'node:crypto';
import { unwrap } from '@mauntic/kernel';
import { createLogger } from '@mauntic/platform';
import { graphql } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsLookup } from '../src/app/dns.ts';
import { KEY_OVERLAP_MS, recheckSendingDomains } from '../src/app/sending-domains.ts';
import type { DnsRecord, MailPlatform } from '../src/domain/sending-domain.ts';
import { schema } from '../src/graphql/index.ts';
import { DNS_SERVER, publishZone } from './dns-zone.ts';
import { DATABASES, newOrg, openDelivery } from './harness.ts';

const logger = createLogger('test', 'silent');
const PLATFORM: MailPlatform = {
  sendingIps: [
    { ip: '127.0.0.2', hostname: 'mta1.mauntic.test' },
    { ip: '127.0.0.3', hostname: 'mta2.mauntic.test' },
  ],
  bounceHost: 'inbound.mauntic.test',
};
type Data = Record<string, any>;
const FIELDS =
  'id domain returnPathDomain status records { kind type name value verified } dkimKeys { selector algorithm status generation }';
const DOMAIN_FIELDS = `__typename ... on SendingDomain { ${FIELDS} } ... on Error { message }`;

describe.each(DATABASES)('sending domains (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let clock = Date.now();

  beforeAll(async () => {
    env = await openDelivery(open, () => new Date(clock), {
      mail: { dns: dnsLookup([DNS_SERVER]), platform: PLATFORM },
    });
  });
  afterAll(() => env?.close());

  const gql = async (ctx: ReturnType<typeof newOrg>, source: string, variables: Record<string, unknown> = {}) => {
    const result = await graphql({
      schema,
      source,
      variableValues: variables,
      contextValue: { request: ctx, services: env.services, log: logger },
    });
    expect(result.errors).toBeUndefined();
    return result.data as Data;
  };
  const add = async (ctx: ReturnType<typeof newOrg>, domain: string) =>
    (
      await gql(ctx, `mutation($d: String!) { addSendingDomain(input: { domain: $d }) { ${DOMAIN_FIELDS} } }`, {
        d: domain,
      })
    ).addSendingDomain;
  const verify = async (ctx: ReturnType<typeof newOrg>, id: string) =>
    (await gql(ctx, `mutation($id: ID!) { verifySendingDomain(id: $id) { ${DOMAIN_FIELDS} } }`, { id }))
      .verifySendingDomain;
  const publish = (domain: string, records: Data[]) =>
    publishZone(domain, records.filter((r) => r.kind !== 'PTR') as Pick<DnsRecord, 'type' | 'name' | 'value'>[]);

  it('shows the records to publish: two DKIM keys, SPF naming every sending address, the return path MX, DMARC, PTR', async () => {
    const ctx = newOrg();
    const domain = `d${randomBytes(5).toString('hex')}.test`;
    const added = await add(ctx, `  ${domain.toUpperCase()}. `);
    expect(added).toMatchObject({
      __typename: 'SendingDomain',
      domain,
      returnPathDomain: `bounces.${domain}`,
      status: 'PENDING',
    });
    const byKind = (kind: string) => added.records.filter((r: Data) => r.kind === kind);
    expect(
      byKind('DKIM')
        .map((r: Data) => r.value.slice(0, 22))
        .sort(),
    ).toEqual(['v=DKIM1; k=ed25519; p=', 'v=DKIM1; k=rsa; p=MIIB']);
    expect(byKind('SPF')).toEqual([
      expect.objectContaining({
        type: 'TXT',
        name: `bounces.${domain}`,
        value: 'v=spf1 ip4:127.0.0.2 ip4:127.0.0.3 -all',
      }),
    ]);
    expect(byKind('RETURN_PATH')).toEqual([expect.objectContaining({ type: 'MX', value: '10 inbound.mauntic.test' })]);
    expect(byKind('DMARC')[0].name).toBe(`_dmarc.${domain}`);
    expect(byKind('PTR').map((r: Data) => [r.name, r.value])).toEqual([
      ['2.0.0.127.in-addr.arpa', 'mta1.mauntic.test'],
      ['3.0.0.127.in-addr.arpa', 'mta2.mauntic.test'],
    ]);
    expect(added.records.every((r: Data) => r.verified === null)).toBe(true);
    expect((await add(ctx, domain)).__typename).toBe('SendingDomainTakenError');
    expect((await add(ctx, 'not a domain')).__typename).toBe('ValidationError');
  });

  it('refuses marketing email from an unverified domain with a typed error, and takes it once verified', async () => {
    const ctx = newOrg();
    const domain = `d${randomBytes(5).toString('hex')}.test`;
    const added = await add(ctx, domain);
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'news',
        channel: 'email',
        source: { html: '<p>News</p>', subject: 'News', fromAddress: `news@${domain}` },
      }),
    );
    const send = async (key: string) =>
      (
        await gql(
          ctx,
          `mutation($t: ID!, $k: String!) { sendEmail(input: { templateId: $t, to: "kim@example.com", idempotencyKey: $k }) {
            __typename ... on UnverifiedSendingDomainError { domain code } ... on Message { id } } }`,
          { t: template.id, k: key },
        )
      ).sendEmail;
    expect(await send('a')).toEqual({
      __typename: 'UnverifiedSendingDomainError',
      domain,
      code: 'SENDING_DOMAIN_UNVERIFIED',
    });
    const messages = await gql(ctx, '{ messages(first: 10) { totalCount } }');
    expect(messages.messages.totalCount).toBe(0);
    await publish(domain, added.records);
    expect((await verify(ctx, added.id)).status).toBe('VERIFIED');
    expect((await send('b')).__typename).toBe('Message');
  });

  it('rotates keys with an overlap, and the daily check finds a record removed', async () => {
    const ctx = newOrg();
    const domain = `d${randomBytes(5).toString('hex')}.test`;
    const added = await add(ctx, domain);
    await publish(domain, added.records);
    expect((await verify(ctx, added.id)).status).toBe('VERIFIED');

    const rotated = (
      await gql(ctx, `mutation($id: ID!) { rotateDkimKeys(id: $id) { ${DOMAIN_FIELDS} } }`, { id: added.id })
    ).rotateDkimKeys;
    const states = (d: Data) => d.dkimKeys.map((k: Data) => `${k.selector}:${k.status}`).sort();
    expect(states(rotated)).toEqual([
      'mauntic1-ed:active',
      'mauntic1-rsa:active',
      'mauntic2-ed:pending',
      'mauntic2-rsa:pending',
    ]);
    // Not yet published: the old keys keep signing and the domain stays verified.
    const before = await verify(ctx, added.id);
    expect(before.status).toBe('VERIFIED');
    expect(states(before)).toEqual(states(rotated));

    await publish(domain, rotated.records);
    const promoted = await verify(ctx, added.id);
    expect(states(promoted)).toEqual([
      'mauntic1-ed:retiring',
      'mauntic1-rsa:retiring',
      'mauntic2-ed:active',
      'mauntic2-rsa:active',
    ]);
    expect(promoted.status).toBe('VERIFIED');

    // A day later, past the overlap, with the DMARC record gone: the daily check retires the old
    // keys (no longer shown) and marks the domain failing.
    clock += KEY_OVERLAP_MS + 3600_000;
    await publish(
      domain,
      promoted.records.filter((r: Data) => r.kind !== 'DMARC'),
    );
    expect(await recheckSendingDomains(env.services.deps)).toBeGreaterThanOrEqual(1);
    const after = (await gql(ctx, `query($id: ID!) { sendingDomain(id: $id) { ${FIELDS} } }`, { id: added.id }))
      .sendingDomain;
    expect(after.status).toBe('FAILING');
    expect(states(after)).toEqual(['mauntic2-ed:active', 'mauntic2-rsa:active']);
    expect(after.records.find((r: Data) => r.kind === 'DMARC').verified).toBe(false);
  });
});
