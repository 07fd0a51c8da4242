// The engine's DKIM signer (providers/dkim.ts) against mailauth as an independent implementation:
// its signatures verify with mailauth's dkimVerify against the published public keys (RSA-2048 and
// Ed25519), survive what a relay may do to headers under relaxed canonicalization, break when a
// signed header or the body changes, and are byte for byte the ones mailauth's own signer
// (dkimSign) makes for the same keys, time and headers (both algorithms are deterministic), so
// canonicalizing the headers once per message for all keys changes nothing a receiver sees.
import { describe, expect, it } from 'vitest';
import {
  DKIM_SIGNED_HEADERS,
  type DkimAlgorithm,
  generateDkimKey,
  parseDkimKey,
  signMessage,
} from '../src/providers/dkim.ts';
import { buildRawMessage } from '../src/providers/mime.ts';
import type { EmailMessage } from '../src/providers/types.ts';

// mailauth ships no types for its entry point.
const { dkimSign, dkimVerify } = (await import('mailauth')) as unknown as {
  dkimSign(raw: Buffer, options: Record<string, unknown>): Promise<{ signatures: string; errors: unknown[] }>;
  dkimVerify(
    raw: Buffer,
    options: { resolver: (name: string, type: string) => Promise<string[][]> },
  ): Promise<{
    results: { status: { result: string; comment?: string }; signingDomain: string; selector: string; algo: string }[];
  }>;
};

const DOMAIN = 'signer.mauntic.test';
const pairs = (['rsa-sha256', 'ed25519-sha256'] as const).map((algorithm: DkimAlgorithm) => {
  const { privateKeyPem, publicKey } = generateDkimKey(algorithm);
  return { algorithm, selector: `m-${algorithm.split('-')[0]}`, privateKeyPem, publicKey };
});
const keys = pairs.map((p) => ({
  domain: DOMAIN,
  selector: p.selector,
  algorithm: p.algorithm,
  privateKey: parseDkimKey(p.privateKeyPem),
}));

/** The domain's DKIM records, as a DNS server would answer them. */
async function resolver(name: string, type: string): Promise<string[][]> {
  const pair = pairs.find((p) => name === `${p.selector}._domainkey.${DOMAIN}`);
  if (type !== 'TXT' || !pair) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
  return [[`v=DKIM1; k=${pair.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'}; p=${pair.publicKey}`]];
}

const verdicts = async (raw: Buffer) =>
  (await dkimVerify(raw, { resolver })).results.map((r) => [r.algo, r.status.result, r.signingDomain]).sort();
const comments = async (raw: Buffer) => (await dkimVerify(raw, { resolver })).results.map((r) => r.status.comment);

function message(overrides: Partial<EmailMessage> = {}): EmailMessage {
  return {
    channel: 'email',
    messageId: '0190abcd-ef01-7000-8000-00000000d41d',
    from: { name: 'Ça Marche Café', address: `news@${DOMAIN}` },
    to: 'ada@example.com',
    subject: `Ada, your picks for Zürich this week: ${'a long subject that folds over several lines '.repeat(3)}`,
    html: `<p>Hello Ada, voilà ${'<a href="https://t.mauntic.test/c/x">tracked</a> '.repeat(40)}</p>\n\n`,
    text: 'Hello Ada\n\n\n',
    headers: {
      'List-Unsubscribe': `<https://t.mauntic.test/u/${'t'.repeat(120)}>, <mailto:unsubscribe@${DOMAIN}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    ...overrides,
  } as EmailMessage;
}

const now = new Date('2026-12-08T01:30:00Z');
const both = [
  ['ed25519-sha256', 'pass', DOMAIN],
  ['rsa-sha256', 'pass', DOMAIN],
];

describe('DKIM signer', () => {
  it('signs with every key; each signature verifies against its public key', async () => {
    const raw = buildRawMessage(message(), now);
    const signed = await signMessage(raw, keys, now);
    expect(signed.subarray(signed.length - raw.length).equals(raw)).toBe(true);
    expect(await verdicts(signed)).toEqual(both);
    const text = signed.toString('latin1');
    expect(text.match(/^DKIM-Signature:/gm)).toHaveLength(2);
    expect(text).toContain(`t=${Math.floor(now.getTime() / 1000)}`);
    expect(text).toContain('c=relaxed/simple');
  });

  it('makes the same signatures as mailauth’s own signer, for messages with and without the unsubscribe pair', async () => {
    for (const m of [message(), message({ headers: {} })]) {
      const raw = buildRawMessage(m, now);
      const ours = await signMessage(raw, keys, now);
      const theirs = await dkimSign(raw, {
        canonicalization: 'relaxed/simple',
        signTime: now,
        headerList: DKIM_SIGNED_HEADERS,
        signatureData: pairs.map((p) => ({
          signingDomain: DOMAIN,
          selector: p.selector,
          privateKey: p.privateKeyPem,
          algorithm: p.algorithm,
          canonicalization: 'relaxed/simple',
        })),
      });
      expect(theirs.errors).toEqual([]);
      expect(ours.subarray(0, ours.length - raw.length).toString('latin1')).toBe(theirs.signatures);
      expect(await verdicts(ours)).toEqual(both);
    }
  });

  it('a header refolded, respaced and recased by a relay still verifies (relaxed headers)', async () => {
    const signed = (await signMessage(buildRawMessage(message(), now), keys, now)).toString('latin1');
    const relayed = signed
      .replace(/^Subject: /m, 'subject:    ')
      .replace(/^To: ada@example.com/m, 'TO:\r\n\tada@example.com');
    expect(relayed).not.toBe(signed);
    expect(await verdicts(Buffer.from(relayed, 'latin1'))).toEqual(both);
  });

  it('a changed signed header or body breaks every signature', async () => {
    const signed = (await signMessage(buildRawMessage(message(), now), keys, now)).toString('latin1');
    const headers = [
      signed.replace(/^To: ada@example.com/m, 'To: eve@example.com'),
      signed.replace(/^List-Unsubscribe-Post: .*$/m, 'List-Unsubscribe-Post: nothing'),
    ];
    for (const raw of headers) {
      expect(raw).not.toBe(signed);
      expect((await verdicts(Buffer.from(raw, 'latin1'))).map((r) => r[1])).toEqual(['fail', 'fail']);
    }
    // A body that no longer matches bh= (mailauth reports it as neutral, RFC 6376 §6.3 step 4).
    const body = Buffer.from(signed.replace('Hello Ada', 'Hello Eve'), 'latin1');
    expect((await verdicts(body)).map((r) => r[1])).toEqual(['neutral', 'neutral']);
    expect(await comments(body)).toEqual(['body hash did not verify', 'body hash did not verify']);
  });

  it('no keys: the message as it is; a message without a header/body separator is refused', async () => {
    const raw = buildRawMessage(message(), now);
    expect(await signMessage(raw, [], now)).toBe(raw);
    await expect(signMessage(Buffer.from('Subject: x\r\n'), keys, now)).rejects.toThrow(/no body separator/);
  });
});
