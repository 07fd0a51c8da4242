// The unsubscribe headers every marketing email carries: RFC 2369 List-Unsubscribe with the
// one-click URL first (and an optional mailto:), and RFC 8058 List-Unsubscribe-Post, which tells
// mailbox providers that a POST to that URL unsubscribes without any further step.

// A type alias (not an interface) so it can be passed where a Record<string, string> is expected.
export type ListUnsubscribeHeaders = {
  'List-Unsubscribe': string;
  'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click';
};

/**
 * @param oneClickUrl the URL that accepts the one-click POST (RFC 8058 requires https in
 *   production; http is accepted for local and embedded use).
 * @param mailto an address or mailto: URI, e.g. "unsubscribe+<token>@bounces.example.com".
 */
export function listUnsubscribeHeaders(oneClickUrl: string, mailto?: string): ListUnsubscribeHeaders {
  const url = new URL(oneClickUrl);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('The one-click unsubscribe URL must be an http(s) URL');
  }
  const uris = [`<${url.href}>`];
  if (mailto) {
    const address = mailto.replace(/^mailto:/i, '');
    if (!/^[^\s<>@,]+@[^\s<>@,]+$/.test(address.split('?')[0]!)) {
      throw new TypeError(`Not an email address: ${mailto}`);
    }
    uris.push(`<mailto:${address}>`);
  }
  return { 'List-Unsubscribe': uris.join(', '), 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}
