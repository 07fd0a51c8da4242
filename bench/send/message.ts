// Deterministic, personalised, tracked marketing emails of about 10 KB, pre-rendered to raw
// MIME (multipart/alternative: text + HTML, 7-bit ASCII, CRLF, lines under 100 characters).
// Message i goes to user<i>@bench.example; the same (i, options) always gives the same bytes.
import { createHash } from 'node:crypto';

export interface BenchMessage {
  index: number;
  from: string;
  to: string;
  raw: Buffer;
}

export interface MessageOptions {
  /** Whole message size to aim for, headers included (default 10,240 bytes). */
  targetBytes?: number;
  /** Changes the tracking tokens (and so every message) without changing sizes. */
  seed?: string;
  from?: string;
  domain?: string;
  trackingBase?: string;
}

export const BENCH_FROM = 'news@mauntic.example';
export const BENCH_DOMAIN = 'bench.example';

export const recipientAt = (i: number, domain = BENCH_DOMAIN) => `user${i}@${domain}`;

/** The contact data message i is personalised with (for seeding the engine's contacts alike). */
export function contactAt(i: number, domain = BENCH_DOMAIN) {
  return {
    email: recipientAt(i, domain),
    firstName: FIRST[i % FIRST.length]!,
    lastName: LAST[(i >> 3) % LAST.length]!,
    city: CITIES[(i * 7) % CITIES.length]!,
    plan: PLANS[i % PLANS.length]!,
  };
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Linus', 'Margaret'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman'];
const CITIES = ['Lyon', 'Porto', 'Gdansk', 'Leeds', 'Ghent', 'Turin', 'Aarhus', 'Bilbao', 'Tartu', 'Cork'];
const PLANS = ['free', 'pro', 'enterprise'];
const PRODUCTS = [
  'Field notebook',
  'Walnut desk lamp',
  'Merino travel scarf',
  'Ceramic pour-over set',
  'Canvas weekender bag',
  'Brass pocket torch',
  'Linen apron',
  'Oak serving board',
];
// Fixed date: the bytes must not depend on when the benchmark runs.
const DATE = 'Tue, 04 Nov 2025 09:30:00 +0000';
const BOUNDARY = '=_mauntic_bench_alt_0001';

function escapeHtml(s: string) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders message i. */
export function renderMessage(i: number, options: MessageOptions = {}): BenchMessage {
  const targetBytes = options.targetBytes ?? 10_240;
  const from = options.from ?? BENCH_FROM;
  const { email: to, firstName: first, lastName: last, city, plan } = contactAt(i, options.domain);
  const track = options.trackingBase ?? 'https://t.mauntic.example';
  const token = createHash('sha256')
    .update(`${options.seed ?? 'bench'}:${i}`)
    .digest('base64url')
    .slice(0, 22);
  const link = (k: number) => `${track}/c/${token}/${k}`;

  const headers = [
    `From: "Mauntic Bench" <${from}>`,
    `To: "${first} ${last}" <${to}>`,
    `Subject: ${first}, your ${plan} picks for ${city} this week`,
    `Date: ${DATE}`,
    `Message-ID: <bench-${i}.${token}@mauntic.example>`,
    'MIME-Version: 1.0',
    `List-Unsubscribe: <${track}/u/${token}>, <mailto:unsubscribe+${token}@mauntic.example>`,
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    `Feedback-ID: bench:weekly:${plan}:mauntic`,
    `X-Mauntic-Send: ${token}`,
    `Content-Type: multipart/alternative; boundary="${BOUNDARY}"`,
  ].join('\r\n');

  const textLines = [
    `Hi ${first},`,
    '',
    `Here is what we picked for ${plan} members in ${city} this week.`,
    '',
    ...PRODUCTS.slice(0, 5).map((p, k) => `* ${p}: ${link(k + 1)}`),
    '',
    `Unsubscribe: ${track}/u/${token}`,
    `Preferences: ${track}/p/${token}`,
  ];
  const text = textLines.join('\r\n');

  const head = [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Your ${plan} picks</title>`,
    '<style>body{margin:0;padding:0;background:#f4f4f7}',
    '.card{background:#fff;border-radius:6px;margin:12px 0;padding:16px}',
    'a.btn{background:#3b5bdb;color:#fff;padding:10px 18px;border-radius:4px;text-decoration:none}',
    '</style></head>',
    '<body><table role="presentation" width="100%" cellpadding="0" cellspacing="0">',
    '<tr><td align="center"><table role="presentation" width="600" cellpadding="0" cellspacing="0">',
    `<tr><td><h1 style="font-family:Arial,sans-serif;color:#222">Hello ${escapeHtml(first)},</h1>`,
    `<p style="font-family:Arial,sans-serif;color:#444">Our ${plan} selection for ${escapeHtml(city)}.</p></td></tr>`,
  ];
  const tail = [
    '<tr><td style="font-family:Arial,sans-serif;font-size:12px;color:#888;padding:24px 0">',
    `You receive this email as a ${plan} member. <a href="${track}/u/${token}">Unsubscribe</a>`,
    ` or <a href="${track}/p/${token}">change your preferences</a>.</td></tr>`,
    '</table></td></tr></table>',
    `<img src="${track}/o/${token}.gif" width="1" height="1" alt="" style="display:block">`,
    '</body></html>',
  ];
  const block = (k: number) => {
    const product = PRODUCTS[(i + k) % PRODUCTS.length]!;
    const price = ((i * 31 + k * 17) % 9000) / 100 + 10;
    return (
      '<tr><td class="card" style="font-family:Arial,sans-serif;color:#333">\r\n' +
      `<h2 style="font-size:18px;margin:0 0 8px">${product}</h2>\r\n` +
      `<p style="margin:0 0 12px">Picked for ${escapeHtml(first)} ${escapeHtml(last)} in ${escapeHtml(city)}:\r\n` +
      ` made to last, shipped from a workshop near you, now ${price.toFixed(2)} EUR.</p>\r\n` +
      `<p style="margin:0 0 12px"><a class="btn" href="${link(k + 1)}">See the ${product.toLowerCase()}</a></p>\r\n` +
      '</td></tr>'
    );
  };

  const partHeader = (type: string) =>
    `--${BOUNDARY}\r\nContent-Type: ${type}; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n`;
  const htmlHead = head.join('\r\n');
  const htmlTail = tail.join('\r\n');
  const fixed =
    headers.length +
    4 +
    partHeader('text/plain').length +
    text.length +
    2 +
    partHeader('text/html').length +
    2 +
    `--${BOUNDARY}--\r\n`.length;
  let size = fixed + htmlHead.length + htmlTail.length + 2;
  let html = htmlHead;
  // Product blocks until the message reaches the target size (it overshoots by under one block).
  for (let k = 0; size < targetBytes; k++) {
    const b = block(k);
    size += b.length + 2;
    html += `\r\n${b}`;
  }
  html += `\r\n${htmlTail}`;

  const raw = `${headers}\r\n\r\n${partHeader('text/plain')}${text}\r\n${partHeader('text/html')}${html}\r\n--${BOUNDARY}--\r\n`;
  return { index: i, from, to, raw: Buffer.from(raw, 'ascii') };
}

/** Renders messages 0..count-1 (about 10 KB each: 100,000 take about 1 GB). */
export function generateMessages(count: number, options: MessageOptions = {}): BenchMessage[] {
  const messages = new Array<BenchMessage>(count);
  for (let i = 0; i < count; i++) messages[i] = renderMessage(i, options);
  return messages;
}
