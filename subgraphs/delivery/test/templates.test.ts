import {
  type CompiledEmailTemplate,
  compileEmailTemplate,
  compilePushTemplate,
  compileSmsTemplate,
  compileWebhookTemplate,
  type EmailTemplateInput,
  type RenderVars,
  renderEmail,
  renderPush,
  renderSms,
  renderWebhook,
  resolveLink,
  selectLocale,
  smsSegments,
  TemplateSyntaxError,
} from '@mauntic/delivery/templates';
import { ValidationError } from '@mauntic/kernel';
import { describe, expect, it } from 'vitest';

const mjml = (body: string, head = '') =>
  `<mjml>\n${head}<mj-body>\n<mj-section>\n<mj-column>\n${body}\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>`;

const vars = (contact: RenderVars['contact'] = {}, extra: Partial<RenderVars> = {}): RenderVars => ({
  contact: { id: 'c-1', email: 'ada@example.com', firstName: 'Ada', ...contact },
  message: { id: 'm-1' },
  unsubscribeUrl: 'https://t.example.com/u/TOKEN',
  preferencesUrl: 'https://t.example.com/p/TOKEN',
  ...extra,
});

async function compiled(input: EmailTemplateInput): Promise<CompiledEmailTemplate> {
  const result = await compileEmailTemplate(input);
  if (!result.ok) throw result.error;
  return result.value;
}

async function syntaxError(input: EmailTemplateInput): Promise<TemplateSyntaxError> {
  const result = await compileEmailTemplate(input);
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('compiled');
  expect(result.error).toBeInstanceOf(TemplateSyntaxError);
  return result.error as TemplateSyntaxError;
}

/** 1-based line and column of the first occurrence of `needle` in `source`. */
function positionOf(source: string, needle: string, from = 0) {
  const index = source.indexOf(needle, from);
  if (index < 0) throw new Error(`${needle} not in source`);
  const before = source.slice(0, index).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

describe('saving an email template', () => {
  it('reports an unknown MJML element with its line and column', async () => {
    const source = mjml('  <mj-text>Hi</mj-text>\n    <mj-bogus>x</mj-bogus>');
    const error = await syntaxError({ mjml: source, subject: 'Hi' });
    expect(error.type).toBe('template_syntax');
    expect(error.field).toBe('mjml');
    expect({ line: error.line, column: error.column }).toEqual(positionOf(source, '<mj-bogus>'));
    expect(error.message).toMatch(/mj-bogus/);
  });

  it('reports an illegal MJML attribute at the attribute', async () => {
    const source = mjml('<mj-text color="red" sparkle="yes">Hi</mj-text>');
    const error = await syntaxError({ mjml: source, subject: 'Hi' });
    expect(error.field).toBe('mjml');
    const at = positionOf(source, 'sparkle=');
    expect({ line: error.line, column: error.column }).toEqual(at);
    expect(error.message).toMatch(/sparkle/);
  });

  it('reports mismatched MJML tags that the MJML parser would silently repair', async () => {
    const source = mjml('<mj-text>Hi</mj-section>');
    const error = await syntaxError({ mjml: source, subject: 'Hi' });
    expect(error.field).toBe('mjml');
    expect({ line: error.line, column: error.column }).toEqual(positionOf(source, '</mj-section>'));
    expect(error.message).toMatch(/<\/mj-text> was expected/);
  });

  it('reports every MJML validation error, the first one on top', async () => {
    const source = mjml('<mj-bogus>a</mj-bogus>\n<mj-text sparkle="1">b</mj-text>');
    const error = await syntaxError({ mjml: source, subject: 'Hi' });
    expect(error.issues.map((i) => i.line)).toEqual([
      positionOf(source, '<mj-bogus>').line,
      positionOf(source, 'sparkle').line,
    ]);
  });

  it('reports broken Handlebars in the subject with line and column', async () => {
    const subject = 'Hi {{contact.firstName}}, your order {{/if}}';
    const error = await syntaxError({ html: '<p>x</p>', subject });
    expect(error.field).toBe('subject');
    expect(error.locale).toBeNull();
    expect({ line: error.line, column: error.column }).toEqual(positionOf(subject, '{{/if}}'));
  });

  it('reports an unterminated expression in the subject at the expression', async () => {
    const subject = 'Hello {{contact.firstName';
    const error = await syntaxError({ html: '<p>x</p>', subject });
    expect(error.field).toBe('subject');
    expect(error.line).toBe(1);
    // The lexer stops inside the unterminated expression, after its opening braces.
    expect(error.column).toBeGreaterThan(subject.indexOf('{{'));
  });

  it('reports Handlebars errors in MJML at their position in the MJML source', async () => {
    const source = mjml(
      '<mj-text>\n  Hello {{#if contact.firstName}}\n  {{contact.firstName}}\n  {{/each}}\n</mj-text>',
    );
    const error = await syntaxError({ mjml: source, subject: 'Hi' });
    expect(error.field).toBe('mjml');
    expect(error.message).toMatch(/if doesn't match each/);
    // Handlebars points at the block's name.
    expect({ line: error.line, column: error.column }).toEqual(positionOf(source, 'if contact.firstName}}'));
  });

  it('refuses unknown helpers and partials at save time, with their position', async () => {
    const html = '<p>\n  {{shout contact.firstName}}</p>';
    const unknown = await syntaxError({ html, subject: 'Hi' });
    expect(unknown.field).toBe('html');
    expect(unknown.message).toMatch(/unknown helper shout/);
    expect({ line: unknown.line, column: unknown.column }).toEqual(positionOf(html, '{{shout'));

    const partial = await syntaxError({ html: '<p>x</p>', subject: 'Hi', text: 'a\n {{> footer}}' });
    expect(partial.field).toBe('text');
    expect(partial.message).toMatch(/Partials/);
    expect({ line: partial.line, column: partial.column }).toEqual({ line: 2, column: 2 });
  });

  it('names the locale variant whose field is broken', async () => {
    const error = await syntaxError({
      html: '<p>x</p>',
      subject: 'Hi',
      locales: { fr: { html: '<p>x</p>', subject: 'Salut {{#if x}}' } },
    });
    expect(error.field).toBe('subject');
    expect(error.locale).toBe('fr');
  });

  it('needs exactly one of mjml and html', async () => {
    const both = await compileEmailTemplate({ mjml: mjml('<mj-text>a</mj-text>'), html: '<p>a</p>', subject: 'Hi' });
    const neither = await compileEmailTemplate({ subject: 'Hi' });
    for (const result of [both, neither]) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toBeInstanceOf(ValidationError);
    }
  });
});

describe('rendering an email', () => {
  const template = compiled({
    mjml: mjml(
      '<mj-text><h1>Hello {{contact.firstName}}</h1><p>Plan: {{upper contact.fields.plan}} &amp; more</p></mj-text>' +
        '<mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>',
      '<mj-head><mj-title>News</mj-title></mj-head>\n',
    ),
    subject: '{{contact.firstName}}, news & offers',
    preheader: 'For {{contact.firstName}} & friends',
  });

  it('escapes contact data in the HTML but not in the subject or the text part', async () => {
    const t = await template;
    const evil = '<script>alert("x")</script> & Co';
    const out = renderEmail(t, vars({ firstName: evil, fields: { plan: 'pro' } }));
    expect(out.html).not.toContain('<script>');
    expect(out.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(out.subject).toBe(`${evil}, news & offers`);
    expect(out.text).toContain(`Hello ${evil}`);
    expect(out.text).not.toContain('&lt;');
    expect(out.text).not.toContain('&amp;');
  });

  it('derives the text part from the compiled HTML, personalised and without markup', async () => {
    const out = renderEmail(await template, vars({ firstName: 'Ada', fields: { plan: 'pro' } }));
    expect(out.text).toContain('Hello Ada');
    expect(out.text).toContain('Plan: PRO & more');
    expect(out.text).toContain('Unsubscribe [https://t.example.com/u/TOKEN]');
    expect(out.text).not.toMatch(/<[a-z]|\{\{/i);
    // The preheader is preview text of the HTML part only.
    expect(out.text).not.toContain('friends');
  });

  it('puts the preheader, escaped, in a hidden block at the start of the body', async () => {
    const out = renderEmail(await template, vars({ firstName: '<b>Ada</b>' }));
    const body = out.html.slice(out.html.search(/<body/i));
    const hidden = /<div style="display:none;[^"]*">([^<]*)/.exec(body);
    expect(hidden?.[1]).toMatch(/^For &lt;b&gt;Ada&lt;\/b&gt; &amp; friends/);
    expect(body.indexOf('display:none')).toBeLessThan(body.indexOf('Hello'));
  });

  it('renders missing variables as empty text and keeps one-line subjects', async () => {
    const t = await compiled({
      html: '<p>[{{contact.fields.nope.deeper}}][{{company.name}}][{{context.orderId}}]</p>',
      subject: 'Order {{context.orderId}}\r\nBcc: x@evil.test',
    });
    const out = renderEmail(t, vars({}, { context: { orderId: 'A1\r\nB' } }));
    expect(out.html).toContain('<p>[][][A1\r\nB]</p>');
    expect(out.subject).toBe('Order A1 B Bcc: x@evil.test');
  });

  it('provides default, upper, lower, eq and date helpers', async () => {
    const t = await compiled({
      html: [
        '<p>{{default contact.firstName "there"}}|{{upper contact.lastName}}|{{lower "ABC"}}</p>',
        '<p>{{#if (eq contact.fields.tier 2)}}gold{{else}}plain{{/if}}</p>',
        '<p>{{date context.at "long"}}|{{date contact.fields.birthday}}|{{date context.at dateStyle="short" timeStyle="short"}}</p>',
      ].join(''),
      subject: 'x',
    });
    const out = renderEmail(
      t,
      vars(
        {
          firstName: '',
          lastName: 'Lovelace',
          locale: 'fr-FR',
          timezone: 'Asia/Tokyo',
          fields: { tier: '2', birthday: '1990-05-17' },
        },
        { context: { at: '2024-03-31T20:30:00Z' } },
      ),
    );
    expect(out.html).toContain('<p>there|LOVELACE|abc</p>');
    expect(out.html).toContain('<p>gold</p>');
    // 20:30 UTC is already 1 April in Tokyo; a date-only birthday is never shifted.
    expect(out.html).toContain('<p>1 avril 2024|17 mai 1990|01/04/2024 05:30</p>');
  });

  it('chooses the locale variant with fallback fr-CA → fr → default', async () => {
    const t = await compiled({
      html: '<p>Hello</p>',
      subject: 'Hello',
      locales: {
        fr: { html: '<p>Bonjour</p>', subject: 'Bonjour' },
        fr_ca: { html: '<p>Allô</p>', subject: 'Allô' },
        'zh-Hant': { html: '<p>你好</p>', subject: '你好' },
      },
    });
    expect(Object.keys(t.locales).sort()).toEqual(['fr', 'fr-CA', 'zh-Hant']);
    const subjectFor = (locale: string | null) => renderEmail(t, vars({ locale })).subject;
    expect(subjectFor('fr-CA')).toBe('Allô');
    expect(subjectFor('fr_ca')).toBe('Allô');
    expect(subjectFor('fr-BE')).toBe('Bonjour');
    expect(subjectFor('fr')).toBe('Bonjour');
    expect(subjectFor('zh-Hant-TW')).toBe('你好');
    expect(subjectFor('de-DE')).toBe('Hello');
    expect(subjectFor(null)).toBe('Hello');
    expect(subjectFor('not a locale!')).toBe('Hello');
    expect(renderEmail(t, vars({ locale: 'en' }), { locale: 'fr' }).locale).toBe('fr');
    expect(selectLocale(['en', 'pt-BR'], 'pt-PT')).toBeNull();
  });

  it('refuses an invalid locale key', async () => {
    const result = await compileEmailTemplate({
      html: '<p>x</p>',
      subject: 'x',
      locales: { 'not a tag': { html: '<p>y</p>', subject: 'y' } },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBeInstanceOf(ValidationError);
  });

  it('survives a JSON round trip: the compiled form is what the database stores', async () => {
    const t = await template;
    const restored = JSON.parse(JSON.stringify(t)) as CompiledEmailTemplate;
    const v = vars({ fields: { plan: 'pro' } });
    expect(renderEmail(restored, v)).toEqual(renderEmail(t, v));
  });
});

describe('links in email templates', () => {
  const html = [
    '<html><body>',
    '{{#if contact.fields.vip}}<a href="https://shop.example.com/vip">VIP</a>{{/if}}',
    '<a href="https://shop.example.com/p?id=7&amp;ref={{contact.fields.ref}}">Product</a>',
    '<a href="#top">Top</a><a href="mailto:help@example.com">Mail</a><a href="tel:+15551234">Call</a>',
    '<a href="{{unsubscribeUrl}}">Unsubscribe</a>',
    '<a data-mauntic-notrack href="https://example.com/raw">Raw</a>',
    '{{#each context.items}}<a href="https://shop.example.com/i/{{this.sku}}">{{this.name}}</a>{{/each}}',
    '</body></html>',
  ].join('\n');
  const template = compiled({ html, subject: 'Links' });

  it('numbers tracked links at compile time and stores their original URLs', async () => {
    const t = await template;
    expect(t.default.links.map((l) => l.url)).toEqual([
      'https://shop.example.com/vip',
      'https://shop.example.com/p?id=7&ref={{contact.fields.ref}}',
      'https://shop.example.com/i/{{this.sku}}',
    ]);
    expect(t.default.links.map((l) => [l.spec === null, l.scoped])).toEqual([
      [true, false],
      [false, false],
      [false, true],
    ]);
  });

  it('writes click URLs by template index, leaving anchors, mailto, tel and notrack links alone', async () => {
    const clicks: [number, string][] = [];
    const out = renderEmail(
      await template,
      vars({ fields: { vip: false, ref: 'a&b=c d' } }, { context: { items: [{ sku: 'X/1', name: 'One' }] } }),
      {
        tracking: {
          clickUrl: (index, url) => {
            clicks.push([index, url]);
            return `https://t.example.com/c/${index}?x=1&y=2`;
          },
          openPixelUrl: 'https://t.example.com/o/TOKEN',
        },
      },
    );
    // The VIP link is not rendered for this contact, yet the product link keeps index 1; the
    // HTML and the text part each ask for the click URLs of the links they contain.
    const expected: [number, string][] = [
      [1, 'https://shop.example.com/p?id=7&ref=a%26b%3Dc%20d'],
      [2, 'https://shop.example.com/i/X%2F1'],
    ];
    expect(clicks).toEqual([...expected, ...expected]);
    expect(out.html).toContain('<a href="https://t.example.com/c/1?x&#x3D;1&amp;y&#x3D;2">Product</a>');
    expect(out.html).toContain(
      '<a href="#top">Top</a><a href="mailto:help@example.com">Mail</a><a href="tel:+15551234">Call</a>',
    );
    expect(out.html).toContain('<a href="https://t.example.com/u/TOKEN">Unsubscribe</a>');
    expect(out.html).toContain('<a data-mauntic-notrack href="https://example.com/raw">Raw</a>');
    expect(out.html).toMatch(/<img src="https:\/\/t\.example\.com\/o\/TOKEN"[^>]*\/><\/body>/);
    expect(out.text).toContain('Product [https://t.example.com/c/1?x=1&y=2]');
  });

  it('renders the destinations themselves when previewing without tracking', async () => {
    const out = renderEmail(await template, vars({ fields: { vip: true, ref: 'r1' } }));
    expect(out.html).toContain('<a href="https://shop.example.com/vip">VIP</a>');
    expect(out.html).toContain('<a href="https://shop.example.com/p?id&#x3D;7&amp;ref&#x3D;r1">Product</a>');
    expect(out.html).not.toContain('<img');
  });

  it('resolves a personalised link for the click endpoint by re-rendering it', async () => {
    const t = await template;
    const v = vars({ fields: { ref: 'x y' } });
    expect(resolveLink(t, 0, v)).toBe('https://shop.example.com/vip');
    expect(resolveLink(t, 1, v)).toBe('https://shop.example.com/p?id=7&ref=x%20y');
    expect(resolveLink(t, 9, v)).toBeNull();
  });
});

describe('SMS', () => {
  it('counts GSM-7 septets, extension characters as two', () => {
    expect(smsSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', segments: 1, characters: 160, units: 160 });
    expect(smsSegments('a'.repeat(161))).toMatchObject({ encoding: 'GSM-7', segments: 2 });
    expect(smsSegments('a'.repeat(306)).segments).toBe(2);
    expect(smsSegments('a'.repeat(307)).segments).toBe(3);
    expect(smsSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1, characters: 80, units: 160 });
    expect(smsSegments('€'.repeat(81))).toMatchObject({ encoding: 'GSM-7', segments: 2, units: 162 });
    expect(smsSegments(`${'a'.repeat(159)}{`)).toMatchObject({ encoding: 'GSM-7', segments: 2, units: 161 });
    expect(smsSegments('Ça coûte 5€ [promo] ^_^ ~ | \\ }')).toMatchObject({ encoding: 'UCS-2' });
    expect(smsSegments('Ça coute 5€ [promo] ^_^ ~ | \\ }')).toMatchObject({
      encoding: 'GSM-7',
      characters: 31,
      units: 40,
    });
    expect(smsSegments('')).toEqual({ encoding: 'GSM-7', segments: 0, characters: 0, units: 0 });
  });

  it('never splits an escape pair across segments', () => {
    // 306 septets would fit two segments of 153, but the € straddling the boundary moves.
    expect(smsSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`)).toMatchObject({ units: 306, segments: 3 });
  });

  it('switches to UCS-2 for anything outside GSM-7, emoji counting two code units', () => {
    expect(smsSegments('ç'.repeat(70))).toEqual({ encoding: 'UCS-2', segments: 1, characters: 70, units: 70 });
    expect(smsSegments('ç'.repeat(71)).segments).toBe(2);
    expect(smsSegments(`${'a'.repeat(68)}😀`)).toEqual({ encoding: 'UCS-2', segments: 1, characters: 69, units: 70 });
    expect(smsSegments(`${'a'.repeat(69)}😀`)).toMatchObject({ segments: 2, characters: 70, units: 71 });
    expect(smsSegments('a'.repeat(134)).encoding).toBe('GSM-7');
    // A surrogate pair is never split: 66 + 😀 does not fit 67.
    expect(smsSegments(`${'ç'.repeat(66)}😀${'ç'.repeat(66)}`)).toMatchObject({ units: 134, segments: 3 });
  });

  it('renders personalised text without HTML escaping and counts the result', () => {
    const compiled = compileSmsTemplate('Hi {{default contact.firstName "there"}} & welcome: {{context.code}}');
    if (!compiled.ok) throw compiled.error;
    const out = renderSms(compiled.value, vars({ firstName: 'Zoë <3' }, { context: { code: 'A1' } }));
    expect(out.body).toBe('Hi Zoë <3 & welcome: A1');
    expect(out).toMatchObject({ encoding: 'UCS-2', segments: 1 });
    expect(renderSms(compiled.value, vars({ firstName: '' }, {})).body).toBe('Hi there & welcome: ');
  });

  it('reports template errors in the body', () => {
    const compiled = compileSmsTemplate('Hi\n{{#each x}}');
    expect(compiled.ok).toBe(false);
    if (!compiled.ok) expect(compiled.error).toMatchObject({ field: 'body', line: 2 });
  });
});

describe('push', () => {
  it('renders title, body, data and image URL', () => {
    const compiled = compilePushTemplate({
      title: '{{contact.firstName}} <3',
      body: 'Order {{context.orderId}} shipped',
      data: { orderId: '{{context.orderId}}', screen: 'orders' },
      imageUrl: 'https://cdn.example.com/{{context.image}}.png',
    });
    if (!compiled.ok) throw compiled.error;
    const out = renderPush(compiled.value, vars({ firstName: 'A&B' }, { context: { orderId: 42, image: 'a b/c' } }));
    expect(out).toEqual({
      title: 'A&B <3',
      body: 'Order 42 shipped',
      data: { orderId: '42', screen: 'orders' },
      imageUrl: 'https://cdn.example.com/a%20b%2Fc.png',
    });
  });

  it('reports which field is broken', () => {
    const compiled = compilePushTemplate({ title: 'ok', body: 'ok', data: { a: '{{#if}}' } });
    expect(compiled.ok).toBe(false);
    if (!compiled.ok) expect(compiled.error).toMatchObject({ field: 'data', line: 1 });
  });
});

describe('webhooks', () => {
  const template = compileWebhookTemplate({
    method: 'POST',
    urlTemplate: 'https://hooks.example.com/contacts/{{contact.id}}?email={{contact.email}}',
    headers: { 'X-Name': '{{contact.firstName}}', 'Content-Type': 'application/json' },
    bodyTemplate: JSON.stringify({
      name: '{{contact.firstName}}',
      greeting: 'Hi {{contact.firstName}}!',
      age: '{{json contact.fields.age}}',
      tags: '{{json contact.fields.tags}}',
      missing: '{{json contact.fields.none}}',
      fixed: [1, true, null],
      nested: { email: '{{contact.email}}' },
    }),
  });

  it('produces valid JSON whatever the contact data contains', () => {
    if (!template.ok) throw template.error;
    const nasty = 'Ada", "admin": true, "x": "\\\n</script>{{x}}';
    const out = renderWebhook(template.value, vars({ firstName: nasty, fields: { age: 36, tags: ['a', 'b"c'] } }));
    if (!out.ok) throw out.error;
    const body = JSON.parse(out.value.body!);
    expect(body).toEqual({
      name: nasty,
      greeting: `Hi ${nasty}!`,
      age: 36,
      tags: ['a', 'b"c'],
      missing: null,
      fixed: [1, true, null],
      nested: { email: 'ada@example.com' },
    });
    expect(Object.keys(body)).not.toContain('admin');
  });

  it('percent-encodes URL expressions and strips line breaks from headers', () => {
    if (!template.ok) throw template.error;
    const out = renderWebhook(
      template.value,
      vars({ id: '../admin', email: 'a+b@x.com&admin=1', firstName: 'A\r\nX-Evil: 1' }),
    );
    if (!out.ok) throw out.error;
    expect(out.value.url).toBe('https://hooks.example.com/contacts/..%2Fadmin?email=a%2Bb%40x.com%26admin%3D1');
    expect(out.value.headers).toEqual({ 'X-Name': 'A X-Evil: 1', 'Content-Type': 'application/json' });
    expect(out.value.method).toBe('POST');
  });

  it('refuses a body that is not JSON, with its position', () => {
    const result = compileWebhookTemplate({
      method: 'POST',
      urlTemplate: 'https://h.example.com',
      bodyTemplate: '{\n  "a": {{contact.id}}\n}',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(TemplateSyntaxError);
      expect(result.error).toMatchObject({ field: 'body', line: 2 });
      expect(result.error.message).toMatch(/expressions go inside JSON strings/);
    }
  });

  it('refuses a GET with a body and a URL that renders to something other than http(s)', () => {
    const get = compileWebhookTemplate({ method: 'GET', urlTemplate: 'https://h.example.com', bodyTemplate: '{}' });
    expect(get.ok).toBe(false);
    const dynamic = compileWebhookTemplate({ method: 'GET', urlTemplate: '{{{context.url}}}' });
    if (!dynamic.ok) throw dynamic.error;
    const out = renderWebhook(dynamic.value, vars({}, { context: { url: 'file:///etc/passwd' } }));
    expect(out.ok).toBe(false);
  });
});
