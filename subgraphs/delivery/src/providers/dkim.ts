// DKIM signatures (RFC 6376, RFC 8463) made in the delivery engine itself, one per key of the
// sending domain (RSA-2048 and Ed25519), with mailauth's canonicalization and header formatting.
// mailauth's own signer (`dkimSign`) parses the PEM key on every message, which costs ~0.37 ms a key
// here (OpenSSL 3's decoders), more than an RSA-2048 signature (~0.27 ms): so the keys are parsed
// once into KeyObjects and the signature is made here with node's crypto.
// - The signed headers are canonicalized once per message, not once per key: only the
//   DKIM-Signature line itself differs between the keys (test/dkim-signer.test.ts checks the
//   result is byte for byte mailauth's dkimSign).
// - RSA signs on the libuv thread pool (the async form of crypto.sign), so the engine's own thread
//   keeps rendering and sending meanwhile; Ed25519 (~0.05 ms) signs inline, cheaper than the hop
//   to a pool thread, which was measured in the engine at 0.3-0.5 ms of the main thread a call
//   on a loaded 2-core machine (waking the pool thread hands it the core).
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { CANONICAL } from './mime.ts';

const require = createRequire(import.meta.url);

interface ParsedHeaders {
  parsed: { key: string; casedKey: string; line: Buffer }[];
}
interface SigningLines {
  keys: string;
  headers: ParsedHeaders['parsed'];
}
const signAsync = promisify(sign);

const tools: {
  parseHeaders(buf: Buffer): ParsedHeaders;
  getSigningHeaderLines(parsed: ParsedHeaders['parsed'], fieldNames: string): SigningLines;
  formatSignatureHeaderLine(type: 'DKIM', values: Record<string, string | number>, folded: boolean): string;
  formatRelaxedLine(line: Buffer, suffix?: string): Buffer;
} = require('mailauth/lib/tools');
const { generateCanonicalizedHeader } = require('mailauth/lib/dkim/header') as {
  generateCanonicalizedHeader(
    type: 'DKIM',
    lines: SigningLines,
    options: Record<string, unknown>,
  ): { canonicalizedHeader: Buffer; dkimHeaderOpts: Record<string, string | number> };
};

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKey: KeyObject;
}

/**
 * What every signature covers: the identity and content headers, and the RFC 8058 one-click
 * unsubscribe pair that mailbox providers require to be signed. A header the message lacks (a
 * transactional message has no List-Unsubscribe) is not named in `h=`.
 */
export const DKIM_SIGNED_HEADERS = [
  'From',
  'To',
  'Subject',
  'Date',
  'Message-ID',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
].join(':');

/**
 * Relaxed headers (Postfix or a relay may refold them), simple body: the body is written once by
 * buildRawMessage (CRLF lines, 7bit or quoted-printable) and no hop here rewrites it, and its hash
 * is then one native SHA-256 instead of mailauth's relaxed canonicalization in JavaScript (~0.1 ms
 * a 10 KB message).
 */
const CANONICALIZATION = 'relaxed/simple';

/** RFC 6376 §3.4.3: the body as it is, its trailing empty lines removed, ending in one CRLF. */
function simpleBodyHash(body: Buffer): string {
  let end = body.length;
  while (end >= 2 && body[end - 1] === 0x0a && body[end - 2] === 0x0d) end -= 2;
  return createHash('sha256').update(body.subarray(0, end)).update('\r\n').digest('base64');
}

/**
 * The message with a DKIM-Signature header per key in front. `raw` must be CRLF-canonical (as
 * buildRawMessage writes it).
 */
export async function signMessage(raw: Buffer, keys: readonly DkimKey[], now: Date): Promise<Buffer> {
  if (!keys.length) return raw;
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error('a message to sign has no body separator');
  const headers = tools.parseHeaders(raw.subarray(0, split + 2));
  const lines = tools.getSigningHeaderLines(headers.parsed, DKIM_SIGNED_HEADERS);
  // The relaxed form of the signed headers, the same for every key (what mailauth's
  // relaxedHeaders puts in front of the DKIM-Signature line it canonicalizes).
  const signedHeaders = Buffer.concat(lines.headers.map((h) => tools.formatRelaxedLine(h.line, '\r\n')));
  const signatureOnly: SigningLines = { keys: lines.keys, headers: [] };
  const bodyHash = simpleBodyHash(raw.subarray(split + 4));
  const signatures = await Promise.all(
    keys.map(async (key) => {
      const { canonicalizedHeader: signatureLine, dkimHeaderOpts } = generateCanonicalizedHeader(
        'DKIM',
        signatureOnly,
        {
          signingDomain: key.domain,
          selector: key.selector,
          algorithm: key.algorithm,
          canonicalization: CANONICALIZATION,
          bodyHash,
          signTime: now,
        },
      );
      const canonicalizedHeader = Buffer.concat([signedHeaders, signatureLine]);
      // Ed25519 signs the SHA-256 of the canonical header (RFC 8463 §3); RSA hashes it itself.
      const b =
        key.algorithm === 'rsa-sha256'
          ? await signAsync('sha256', canonicalizedHeader, key.privateKey)
          : sign(null, createHash('sha256').update(canonicalizedHeader).digest(), key.privateKey);
      return tools.formatSignatureHeaderLine('DKIM', { ...dkimHeaderOpts, b: b.toString('base64') }, true);
    }),
  );
  const signed = Buffer.concat([Buffer.from(`${signatures.join('\r\n')}\r\n`, 'latin1'), raw]);
  // The signature lines end in CRLF like the rest: a canonical message stays one (SMTP only stuffs dots).
  if (CANONICAL.has(raw)) CANONICAL.add(signed);
  return signed;
}

/**
 * A new key: the PKCS#8 PEM to seal and the record's p= value (RSA: the SubjectPublicKeyInfo;
 * Ed25519: the bare 32-byte key, RFC 8463 §4).
 */
export function generateDkimKey(algorithm: DkimAlgorithm): { privateKeyPem: string; publicKey: string } {
  const pair =
    algorithm === 'rsa-sha256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  return {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: (algorithm === 'rsa-sha256' ? spki : spki.subarray(spki.length - 32)).toString('base64'),
  };
}

/** Parses a sealed key once opened; the engine keeps the result (parsing is the costly part). */
export const parseDkimKey = (pem: string): KeyObject => createPrivateKey(pem);
