import { addUtm, insertOpenPixel, rewriteLinks } from '@mauntic/delivery/templates';
import { classifyMachineEvent, listUnsubscribeHeaders, signToken, verifyToken } from '@mauntic/delivery/tracking';
import { InvalidSignedTokenError } from '@mauntic/platform';
import { describe, expect, it } from 'vitest';

const KEY = 'k'.repeat(32);
const OTHER_KEY = Buffer.alloc(32, 7);
const payload = {
  k: 'c' as const,
  m: '0190f0c2-aaaa-7bbb-8ccc-000000000001',
  o: '0190f0c2-aaaa-7bbb-8ccc-0000000000aa',
  l: 3,
};

describe('tracking tokens', () => {
  it('round-trips the payload', () => {
    const token = signToken(payload, KEY);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyToken(token, KEY)).toEqual({ ok: true, value: payload });
    const open = signToken({ k: 'o', m: 'm1', o: 'o1' }, KEY);
    expect(verifyToken(open, KEY)).toEqual({ ok: true, value: { k: 'o', m: 'm1', o: 'o1' } });
    // A message's click token, shared by its links (their index travels beside it).
    const click = signToken({ k: 'c', m: 'm1', o: 'o1' }, KEY);
    expect(verifyToken(click, KEY)).toEqual({ ok: true, value: { k: 'c', m: 'm1', o: 'o1' } });
  });

  it('rejects a token with any single character changed', () => {
    const token = signToken(payload, KEY);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let rejected = 0;
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      // Every other character at this position, including ones that decode to the same bits.
      for (const c of alphabet) {
        if (c === token[i]) continue;
        const tampered = token.slice(0, i) + c + token.slice(i + 1);
        const result = verifyToken(tampered, KEY);
        expect(result.ok, `${tampered} accepted`).toBe(false);
        if (!result.ok) expect(result.error).toBeInstanceOf(InvalidSignedTokenError);
        rejected++;
      }
    }
    expect(rejected).toBe((token.length - 1) * 63);
  });

  it('rejects a token signed with another key, and a forged payload', () => {
    const result = verifyToken(signToken(payload, OTHER_KEY), KEY);
    expect(result).toMatchObject({ ok: false, error: { type: 'invalid_signed_token', reason: 'bad_signature' } });

    const [, mac] = signToken(payload, KEY).split('.');
    const forged = Buffer.from(JSON.stringify({ ...payload, l: 4 })).toString('base64url');
    expect(verifyToken(`${forged}.${mac}`, KEY).ok).toBe(false);
  });

  it('rejects malformed tokens with a typed reason', () => {
    const token = signToken(payload, KEY);
    for (const bad of [
      '',
      'abc',
      token.slice(0, -1),
      `${token}A`,
      token.replace('.', ''),
      `${token}.x`,
      `a b.${'x'.repeat(43)}`,
    ]) {
      const result = verifyToken(bad, KEY);
      expect(result).toMatchObject({ ok: false, error: { reason: 'malformed' } });
    }
  });

  it('accepts any of several keys while rotating', () => {
    const token = signToken(payload, OTHER_KEY);
    expect(verifyToken(token, [KEY, OTHER_KEY]).ok).toBe(true);
    expect(verifyToken(token, [KEY]).ok).toBe(false);
  });

  it('refuses payloads that do not describe a tracking event, and short keys', () => {
    expect(() => signToken({ k: 'o', m: 'm', o: 'o', l: 1 }, KEY)).toThrow(TypeError);
    expect(() => signToken({ k: 'c', m: 'm', o: 'o', l: -1 }, KEY)).toThrow(TypeError);
    expect(() => signToken({ k: 'x' as 'o', m: 'm', o: 'o' }, KEY)).toThrow(TypeError);
    expect(() => signToken({ k: 'o', m: 'm', o: 'o' }, 'short')).toThrow(/32 bytes/);
  });
});

describe('rewriteLinks', () => {
  const track = (html: string) => rewriteLinks(html, { linkUrl: (i) => `https://t.example.com/c/${i}?a=1&b=2` });

  it('rewrites http(s) links whatever the quoting, case and attribute order', () => {
    const html = [
      '<a href="https://a.example.com/1">1</a>',
      "<A class='x' HREF='http://b.example.com/2?x=1&amp;y=2' target=_blank>2</A>",
      '<a href=https://c.example.com/3>3</a>',
      '<a\n  title="a > b"\n  href = "https://d.example.com/4"\n>4</a>',
    ].join('\n');
    const out = track(html);
    expect(out.links).toEqual([
      'https://a.example.com/1',
      'http://b.example.com/2?x=1&y=2',
      'https://c.example.com/3',
      'https://d.example.com/4',
    ]);
    expect(out.html).toBe(
      [
        '<a href="https://t.example.com/c/0?a=1&amp;b=2">1</a>',
        '<A class=\'x\' HREF="https://t.example.com/c/1?a=1&amp;b=2" target=_blank>2</A>',
        '<a href="https://t.example.com/c/2?a=1&amp;b=2">3</a>',
        '<a\n  title="a > b"\n  href = "https://t.example.com/c/3?a=1&amp;b=2"\n>4</a>',
      ].join('\n'),
    );
  });

  it('leaves anchors, mailto:, tel:, sms:, relative and notrack links untouched', () => {
    const html = [
      '<a href="#top">t</a>',
      '<a href="mailto:a@example.com?subject=Hi%20there">m</a>',
      "<a href='tel:+1 555 0100'>p</a>",
      '<a href="sms:+15550100">s</a>',
      '<a href="/relative">r</a>',
      '<a href="https://x.example.com" data-mauntic-notrack>n</a>',
      '<a name="anchor">no href</a>',
      '<a href="javascript:alert(1)">j</a>',
    ].join('');
    const out = track(html);
    expect(out.html).toBe(html);
    expect(out.links).toEqual([]);
  });

  it('skips comments, scripts and styles but reads Outlook conditional comments', () => {
    const html = [
      '<!-- <a href="https://commented.example.com">x</a> -->',
      '<style>a[href="https://css.example.com"]{}</style>',
      '<!--[if mso]><a href="https://outlook.example.com">o</a><![endif]-->',
      '<p title="<a href=\'https://attr.example.com\'>">p</p>',
      '<a href="https://real.example.com">r</a>',
    ].join('');
    const out = track(html);
    expect(out.links).toEqual(['https://outlook.example.com', 'https://real.example.com']);
    expect(out.html).toContain('<!-- <a href="https://commented.example.com">x</a> -->');
    expect(out.html).toContain('https://css.example.com');
    expect(out.html).toContain('https://attr.example.com');
  });

  it('treats Handlebars expressions in tags and URLs as opaque', () => {
    const html =
      '<a {{#if (eq a "b")}}class="on"{{/if}} href="https://x.example.com/{{default contact.id "none"}}?q={{q}}">x</a>' +
      '<a href="{{unsubscribeUrl}}">u</a>';
    const out = track(html);
    expect(out.links).toEqual(['https://x.example.com/{{default contact.id "none"}}?q={{q}}']);
    expect(out.html).toBe(
      '<a {{#if (eq a "b")}}class="on"{{/if}} href="https://t.example.com/c/0?a=1&amp;b=2">x</a><a href="{{unsubscribeUrl}}">u</a>',
    );
  });

  it('passes the index and the decoded URL to linkUrl', () => {
    const seen: [number, string][] = [];
    rewriteLinks('<a href="https://a/?x=1&#38;y=&#x32;">a</a><a href="https://b">b</a>', {
      linkUrl: (i, url) => {
        seen.push([i, url]);
        return '#';
      },
    });
    expect(seen).toEqual([
      [0, 'https://a/?x=1&y=2'],
      [1, 'https://b'],
    ]);
  });
});

describe('insertOpenPixel', () => {
  it('puts the pixel just before </body>, in any case, escaping its URL', () => {
    expect(insertOpenPixel('<html><BODY><p>x</p></BODY></html>', 'https://t.example.com/o?a=1&b="2"')).toBe(
      '<html><BODY><p>x</p><img src="https://t.example.com/o?a=1&amp;b=&quot;2&quot;" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;" /></BODY></html>',
    );
  });

  it('appends the pixel when there is no body', () => {
    expect(insertOpenPixel('<p>x</p>', 'https://t/o')).toMatch(/^<p>x<\/p><img src="https:\/\/t\/o"/);
  });
});

describe('listUnsubscribeHeaders', () => {
  it('gives the RFC 8058 pair with the one-click URL first', () => {
    expect(listUnsubscribeHeaders('https://t.example.com/u/TOKEN', 'unsub+TOKEN@bounce.example.com')).toEqual({
      'List-Unsubscribe': '<https://t.example.com/u/TOKEN>, <mailto:unsub+TOKEN@bounce.example.com>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
    expect(listUnsubscribeHeaders('https://t.example.com/u/T', 'mailto:u@example.com')['List-Unsubscribe']).toBe(
      '<https://t.example.com/u/T>, <mailto:u@example.com>',
    );
    expect(listUnsubscribeHeaders('https://t.example.com/u/T')['List-Unsubscribe']).toBe('<https://t.example.com/u/T>');
  });

  it('refuses URLs and addresses that would break the header', () => {
    expect(() => listUnsubscribeHeaders('javascript:alert(1)')).toThrow(TypeError);
    expect(() => listUnsubscribeHeaders('https://t/u', 'a>b@example.com')).toThrow(TypeError);
    expect(listUnsubscribeHeaders('https://t.example.com/u/a b<c>')['List-Unsubscribe']).toBe(
      '<https://t.example.com/u/a%20b%3Cc%3E>',
    );
  });
});

describe('classifyMachineEvent', () => {
  const chrome =
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
  const human = { userAgent: chrome, ip: '203.0.113.9', secondsSinceSent: 600 };

  it('counts an ordinary browser open and click as human', () => {
    expect(classifyMachineEvent({ ...human, kind: 'open' })).toEqual({ machine: false, reason: null });
    expect(classifyMachineEvent({ ...human, kind: 'click' })).toEqual({ machine: false, reason: null });
  });

  it('flags Apple Mail Privacy Protection opens by user agent or by Apple network', () => {
    expect(classifyMachineEvent({ ...human, kind: 'open', userAgent: 'Mozilla/5.0' })).toMatchObject({
      machine: true,
      reason: 'apple_mpp',
    });
    expect(classifyMachineEvent({ ...human, kind: 'open', ip: '17.58.101.2' })).toMatchObject({ reason: 'apple_mpp' });
    expect(classifyMachineEvent({ ...human, kind: 'open', ip: '::ffff:17.1.2.3' })).toMatchObject({
      reason: 'apple_mpp',
    });
    // Not Apple: 170.x and 117.x, and a full Safari agent.
    expect(classifyMachineEvent({ ...human, kind: 'open', ip: '170.1.2.3' }).machine).toBe(false);
    expect(classifyMachineEvent({ ...human, kind: 'open', ip: '117.1.2.3' }).machine).toBe(false);
    expect(
      classifyMachineEvent({
        ...human,
        kind: 'open',
        userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)',
      }).machine,
    ).toBe(false);
    // A person clicking from an Apple office is still a person.
    expect(classifyMachineEvent({ ...human, kind: 'click', ip: '17.58.101.2' }).machine).toBe(false);
  });

  it('flags the Gmail image proxy for opens only', () => {
    const userAgent = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
    expect(classifyMachineEvent({ ...human, kind: 'open', userAgent })).toMatchObject({ reason: 'google_image_proxy' });
    expect(classifyMachineEvent({ ...human, kind: 'click', userAgent }).machine).toBe(false);
  });

  it('flags link scanners and headless browsers', () => {
    const cases: [string, string][] = [
      [
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b',
        'microsoft_safe_links',
      ],
      ['Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)', 'microsoft_safe_links'],
      ['Barracuda Sentinel (EE)', 'barracuda'],
      ['Mozilla/5.0 (compatible; Proofpoint URL Defense)', 'proofpoint'],
      ['Mimecast-URL-Protect/1.0', 'mimecast'],
      [
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
        'headless_browser',
      ],
      ['python-requests/2.31.0', 'http_library'],
      ['', 'missing_user_agent'],
    ];
    for (const [userAgent, reason] of cases) {
      expect(classifyMachineEvent({ ...human, kind: 'click', userAgent }), userAgent).toEqual({
        machine: true,
        reason,
      });
    }
  });

  it('flags clicks within two seconds of sending as scanners, but not opens', () => {
    expect(classifyMachineEvent({ ...human, kind: 'click', secondsSinceSent: 1.5 })).toEqual({
      machine: true,
      reason: 'too_fast',
    });
    expect(classifyMachineEvent({ ...human, kind: 'click', secondsSinceSent: 2 }).machine).toBe(false);
    expect(classifyMachineEvent({ ...human, kind: 'open', secondsSinceSent: 0.5 }).machine).toBe(false);
  });
});

describe('UTM parameters on tracked links', () => {
  const utm = { source: 'newsletter', medium: 'email', campaign: 'spring sale', content: 'hero', term: 'lamps' };

  it('adds every value the link lacks, keeping its own parameters and fragment', () => {
    const url = new URL(addUtm('https://shop.example.com/p/1?ref=mail#top', utm));
    expect(url.origin + url.pathname + url.hash).toBe('https://shop.example.com/p/1#top');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      ref: 'mail',
      utm_source: 'newsletter',
      utm_medium: 'email',
      utm_campaign: 'spring sale',
      utm_content: 'hero',
      utm_term: 'lamps',
    });
  });

  it("keeps an author's own utm value and adds only the missing ones", () => {
    const url = new URL(addUtm('http://shop.example.com/?utm_source=blog', { source: 'newsletter', medium: 'email' }));
    expect(url.searchParams.getAll('utm_source')).toEqual(['blog']);
    expect(url.searchParams.get('utm_medium')).toBe('email');
  });

  it('leaves other schemes, the platform’s own endpoints and sends without values exactly as they are', () => {
    expect(addUtm('mailto:a@example.com', utm)).toBe('mailto:a@example.com');
    const own = 'https://t.mauntic.example/t/unsubscribe?t=abc';
    expect(addUtm(own, utm, 'https://t.mauntic.example')).toBe(own);
    const odd = 'https://shop.example.com/a%20b?x=1&y';
    expect(addUtm(odd, null)).toBe(odd);
    expect(addUtm(odd, {})).toBe(odd);
    expect(addUtm('https://shop.example.com/?utm_source=x', { source: 'y' })).toBe(
      'https://shop.example.com/?utm_source=x',
    );
  });
});
