// A small, synchronous MIME reader for report messages. mailparser flattens embedded
// message/rfc822 parts into the body text and turns message/delivery-status into prose; DSN and
// ARF parsing needs the tree as sent, with the embedded headers kept apart.

export interface HeaderField {
  /** Lower-cased field name. */
  name: string;
  /** Unfolded value, encoded words decoded. */
  value: string;
}

export interface ContentType {
  /** Lower-cased `type/subtype`. */
  type: string;
  /** Lower-cased parameter names. */
  params: Record<string, string>;
}

export interface MimePart {
  headers: HeaderField[];
  contentType: ContentType;
  /** Body bytes after the transfer encoding is undone. */
  body: Buffer;
  /** Children of a multipart, or the one embedded message of a message/rfc822 part. */
  parts: MimePart[];
}

const MAX_DEPTH = 12;
const MAX_PARTS = 200;

export function parseMime(raw: Buffer | string): MimePart {
  const source = typeof raw === 'string' ? raw : raw.toString('latin1');
  return parseEntity(source, 0, { parts: 0 });
}

export function header(part: Pick<MimePart, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return part.headers.find((h) => h.name === wanted)?.value;
}

/** The body decoded as text with the part's charset (UTF-8 when absent or unknown). */
export function bodyText(part: MimePart): string {
  return decodeCharset(part.body, part.contentType.params.charset);
}

/** Every part of the tree, depth first, the root included. */
export function walk(part: MimePart): MimePart[] {
  return [part, ...part.parts.flatMap(walk)];
}

/**
 * Header blocks as used by message/delivery-status and message/feedback-report: groups of
 * `Name: value` lines separated by blank lines. Names are lower-cased; repeated names keep every
 * value in order.
 */
export function parseFieldGroups(text: string): Map<string, string[]>[] {
  const groups: Map<string, string[]>[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    if (!block.trim()) continue;
    const fields = new Map<string, string[]>();
    for (const field of parseHeaderBlock(block)) {
      fields.set(field.name, [...(fields.get(field.name) ?? []), field.value]);
    }
    if (fields.size) groups.push(fields);
  }
  return groups;
}

export function parseHeaderBlock(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  const lines = block.replace(/\r\n?/g, '\n').split('\n');
  let current: string | null = null;
  const flush = () => {
    if (current === null) return;
    const colon = current.indexOf(':');
    if (colon > 0) {
      const name = current.slice(0, colon).trim().toLowerCase();
      if (/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
        fields.push({ name, value: decodeEncodedWords(current.slice(colon + 1).trim()) });
      }
    }
    current = null;
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && current !== null) {
      current += ` ${line.trim()}`;
    } else {
      flush();
      current = line;
    }
  }
  flush();
  return fields;
}

export function parseContentType(value: string | undefined, fallback = 'text/plain'): ContentType {
  if (!value) return { type: fallback, params: {} };
  const [typePart = '', ...rest] = splitParams(value);
  const type = typePart.trim().toLowerCase();
  const params: Record<string, string> = {};
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    const name = param.slice(0, eq).trim().toLowerCase();
    let v = param.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params[name] = v;
  }
  return { type: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : fallback, params };
}

function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && quoted) {
      current += c + (value[i + 1] ?? '');
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (c === ';' && !quoted) {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out;
}

interface Budget {
  parts: number;
}

function parseEntity(source: string, depth: number, budget: Budget): MimePart {
  budget.parts++;
  const split = /\r?\n\r?\n/.exec(source);
  // A message with no blank line is all headers (text/rfc822-headers often ends that way).
  const headerText = split ? source.slice(0, split.index) : source;
  const bodySource = split ? source.slice(split.index + split[0].length) : '';
  const headers = parseHeaderBlock(headerText);
  const fieldsOnly = { headers };
  const contentType = parseContentType(header(fieldsOnly, 'content-type'));
  const encoding = (header(fieldsOnly, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  const body = decodeTransfer(bodySource, encoding);
  const parts: MimePart[] = [];
  const tooDeep = depth >= MAX_DEPTH || budget.parts >= MAX_PARTS;
  if (!tooDeep && contentType.type.startsWith('multipart/') && contentType.params.boundary) {
    for (const child of splitMultipart(bodySource, contentType.params.boundary)) {
      if (budget.parts >= MAX_PARTS) break;
      parts.push(parseEntity(child, depth + 1, budget));
    }
  } else if (!tooDeep && (contentType.type === 'message/rfc822' || contentType.type === 'message/global')) {
    parts.push(parseEntity(body.toString('latin1'), depth + 1, budget));
  }
  return { headers, contentType, body, parts };
}

function splitMultipart(body: string, declared: string): string[] {
  const lines = body.split(/\r?\n/);
  const boundary = lines.some((line) => line.trim() === `--${declared}`) ? declared : boundaryInBody(lines);
  if (!boundary) return [];
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | null = null;
  for (const line of lines) {
    // Some MTAs indent a delimiter line (RFC 3464's own example does); no real body line is one.
    const trimmed = line.trim();
    if (trimmed === delimiter || trimmed === `${delimiter}--`) {
      if (current) parts.push(current.join('\n'));
      if (trimmed !== delimiter) return parts;
      current = [];
    } else if (current) {
      current.push(line);
    }
  }
  // An unterminated multipart (a truncated bounce copy) still yields what it has.
  if (current?.length) parts.push(current.join('\n'));
  return parts;
}

/**
 * The boundary a body actually uses when the Content-Type names another (a bounce whose header was
 * rewritten or anonymized apart from its body): the first `--token` line that is closed by a
 * `--token--` line further down.
 */
function boundaryInBody(lines: string[]): string | undefined {
  const closers = new Set(lines.map((line) => line.trim()).filter((line) => /^--\S+--$/.test(line)));
  for (const line of lines) {
    const token = line.trim().match(/^--(\S{1,200})$/)?.[1];
    if (token && /[^-]/.test(token) && closers.has(`--${token}--`)) return token;
  }
  return undefined;
}

function decodeTransfer(body: string, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return Buffer.from(body, 'latin1');
}

function decodeQuotedPrintable(body: string): Buffer {
  const text = body.replace(/[ \t]+(\r?\n)/g, '$1').replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const hex = text.slice(i + 1, i + 3);
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function decodeCharset(bytes: Buffer, charset = 'utf-8'): string {
  const label = charset.trim().toLowerCase();
  // ISO-2022 charsets are 7-bit: 8-bit bytes under that label are UTF-8 (Japanese MTAs do this).
  if (label.startsWith('iso-2022') && bytes.some((b) => b >= 0x80)) return new TextDecoder('utf-8').decode(bytes);
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** RFC 2047 encoded words; header bytes arrive as latin1 and 8-bit UTF-8 headers are recovered. */
export function decodeEncodedWords(value: string): string {
  const recovered = /[\x80-\xff]/.test(value) ? decodeCharset(Buffer.from(value, 'latin1')) : value;
  return recovered
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=/g, (_m, charset: string, enc: string, text: string) => {
      const bytes =
        enc.toLowerCase() === 'b'
          ? Buffer.from(text, 'base64')
          : decodeQuotedPrintable(text.replace(/_/g, ' ').replace(/=(?![0-9A-Fa-f]{2})/g, '=3D'));
      return decodeCharset(bytes, charset);
    });
}
