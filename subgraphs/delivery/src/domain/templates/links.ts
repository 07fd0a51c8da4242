// Click tracking and the open pixel, applied to HTML as text. The scanner reads tags the way a
// browser tokenizer does (attributes in any order and case, single, double or no quotes, '>'
// inside quoted values, comments and <script>/<style> skipped), and treats Handlebars
// expressions as opaque so it can run on a template at compile time, before rendering.
//
// rewriteLinks numbers the tracked links in document order and returns their original URLs by
// index: the server stores that list and the click endpoint resolves an index to a stored URL,
// never to a URL taken from the request.

export interface RewriteLinksOptions {
  /** The href to write for tracked link `index` (inserted HTML-escaped). */
  linkUrl: (index: number, originalUrl: string) => string;
  /** Which links to track; by default every absolute http(s) URL. */
  shouldTrack?: (originalUrl: string) => boolean;
}

export interface RewrittenHtml {
  html: string;
  /** The original URL of tracked link i (entities decoded), in document order. */
  links: string[];
}

/** The marker an author puts on a link that must not be tracked: <a data-mauntic-notrack href=…>. */
export const NO_TRACK_ATTRIBUTE = 'data-mauntic-notrack';

const isHttpUrl = (url: string): boolean => /^https?:\/\//i.test(url);

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? entity;
  });
}

export const escapeAttribute = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Attribute {
  name: string;
  value: string | null;
  /** Range of the value including its quotes; -1 when the attribute has no value. */
  start: number;
  end: number;
}

interface Tag {
  name: string;
  attributes: Attribute[];
  end: number;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f';

/** The end of a Handlebars expression starting at `i` ("{{"), past "}}" or "}}}". */
function skipExpression(html: string, i: number): number {
  const close = html.indexOf('}}', i + 2);
  if (close < 0) return html.length;
  return html[close + 2] === '}' ? close + 3 : close + 2;
}

/** Reads a start tag at `lt` ('<' followed by a letter); null when it is not one. */
function readTag(html: string, lt: number): Tag | null {
  let i = lt + 1;
  const nameStart = i;
  while (i < html.length && /[A-Za-z0-9:-]/.test(html[i]!)) i++;
  if (i === nameStart) return null;
  const name = html.slice(nameStart, i).toLowerCase();
  const attributes: Attribute[] = [];
  while (i < html.length) {
    const c = html[i];
    if (isSpace(c) || c === '/') {
      i++;
      continue;
    }
    if (c === '>') return { name, attributes, end: i + 1 };
    if (html.startsWith('{{', i)) {
      i = skipExpression(html, i);
      continue;
    }
    const attrStart = i;
    while (i < html.length && !isSpace(html[i]) && html[i] !== '=' && html[i] !== '>' && html[i] !== '/') {
      if (html.startsWith('{{', i)) i = skipExpression(html, i);
      else i++;
    }
    const attrName = html.slice(attrStart, i).toLowerCase();
    let j = i;
    while (isSpace(html[j])) j++;
    if (html[j] !== '=') {
      attributes.push({ name: attrName, value: null, start: -1, end: -1 });
      continue;
    }
    j++;
    while (isSpace(html[j])) j++;
    const quote = html[j];
    const valueStart = j;
    if (quote === '"' || quote === "'") {
      j++;
      while (j < html.length && html[j] !== quote) {
        if (html.startsWith('{{', j)) j = skipExpression(html, j);
        else j++;
      }
      attributes.push({ name: attrName, value: html.slice(valueStart + 1, j), start: valueStart, end: j + 1 });
      i = j + 1;
    } else {
      while (j < html.length && !isSpace(html[j]) && html[j] !== '>') {
        if (html.startsWith('{{', j)) j = skipExpression(html, j);
        else j++;
      }
      attributes.push({ name: attrName, value: html.slice(valueStart, j), start: valueStart, end: j });
      i = j;
    }
  }
  return null;
}

/** Calls `onTag` for every start tag outside ordinary comments, scripts and styles. */
function scanTags(html: string, onTag: (tag: Tag) => void): void {
  let lower: string | undefined;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) return;
    if (html.startsWith('<!--', lt)) {
      // Outlook conditional comments hold markup clients render: scan inside them.
      if (html.startsWith('<!--[if', lt)) {
        const close = html.indexOf(']>', lt);
        i = close < 0 ? html.length : close + 2;
      } else {
        const close = html.indexOf('-->', lt + 2);
        i = close < 0 ? html.length : close + 3;
      }
      continue;
    }
    const tag = /[A-Za-z]/.test(html[lt + 1] ?? '') ? readTag(html, lt) : null;
    if (!tag) {
      i = lt + 1;
      continue;
    }
    onTag(tag);
    i = tag.end;
    if (tag.name === 'script' || tag.name === 'style') {
      lower ??= html.toLowerCase();
      const close = lower.indexOf(`</${tag.name}`, i);
      i = close < 0 ? html.length : close;
    }
  }
}

/** Rewrites tracked <a href> links; anchors, mailto:, tel:, sms: and data-mauntic-notrack links stay as written. */
export function rewriteLinks(html: string, options: RewriteLinksOptions): RewrittenHtml {
  const shouldTrack = options.shouldTrack ?? isHttpUrl;
  const links: string[] = [];
  const out: string[] = [];
  let copied = 0;
  scanTags(html, (tag) => {
    if (tag.name !== 'a') return;
    if (tag.attributes.some((a) => a.name === NO_TRACK_ATTRIBUTE)) return;
    const href = tag.attributes.find((a) => a.name === 'href');
    if (!href || href.value === null) return;
    const original = decodeEntities(href.value).trim();
    if (!shouldTrack(original)) return;
    const index = links.length;
    links.push(original);
    out.push(html.slice(copied, href.start), `"${escapeAttribute(options.linkUrl(index, original))}"`);
    copied = href.end;
  });
  out.push(html.slice(copied));
  return { html: out.join(''), links };
}

/** Adds a 1×1 open-tracking image just before </body>, or at the end when there is no body. */
export function insertOpenPixel(html: string, pixelUrl: string): string {
  const pixel = `<img src="${escapeAttribute(pixelUrl)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;" />`;
  // The last </body> in any case. Templates write it in lower case with little after it, so
  // only other pages pay for a lower-cased copy of the whole page.
  let closing = html.lastIndexOf('</body');
  if (
    closing < 0 ||
    html
      .slice(closing + 6)
      .toLowerCase()
      .includes('</body')
  )
    closing = html.toLowerCase().lastIndexOf('</body');
  if (closing < 0) return html + pixel;
  return html.slice(0, closing) + pixel + html.slice(closing);
}

/** UTM values a send asks to add to its tracked links (a campaign's: `context.utm` of its requests). */
export interface UtmValues {
  source?: string;
  medium?: string;
  campaign?: string;
  content?: string;
  term?: string;
}

const UTM_KEYS = ['source', 'medium', 'campaign', 'content', 'term'] as const;

/**
 * The link with the send's UTM parameters added: each utm_<key> the link does not carry already
 * (an author's own value wins), its other parameters and fragment kept. Only absolute http(s) links
 * outside `exceptUnder` (the platform's own tracking and unsubscribe endpoints) change; a link with
 * nothing to add comes back exactly as given.
 */
export function addUtm(link: string, utm: UtmValues | null | undefined, exceptUnder?: string): string {
  if (!utm || !isHttpUrl(link) || (exceptUnder && link.startsWith(exceptUnder))) return link;
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return link;
  }
  let added = false;
  for (const key of UTM_KEYS) {
    const value = utm[key];
    if (typeof value !== 'string' || !value || url.searchParams.has(`utm_${key}`)) continue;
    url.searchParams.append(`utm_${key}`, value);
    added = true;
  }
  return added ? url.toString() : link;
}
