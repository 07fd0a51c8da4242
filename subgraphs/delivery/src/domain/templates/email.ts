// Email templates: compiled once when saved (MJML to HTML, links numbered for click tracking, a
// text part derived from the HTML, the preheader added as hidden preview text, every part
// precompiled by Handlebars) and rendered per message from that compiled form in microseconds.
//
// Tracked links are rewritten at compile time to {{__link N}}. At render time the helper writes
// either the click-tracking URL the caller builds for index N (options.tracking.clickUrl) or, for a
// preview, the link itself. N is the same for every message of the template even when {{#if}}
// blocks drop links for some contacts, so the click endpoint maps (template, N) to the stored URL;
// a personalised link ({{ }} in its URL) is resolved by re-rendering it with `resolveLink`.
import { randomBytes } from 'node:crypto';
import { fail, ok, type Result, ValidationError } from '@mauntic/kernel';
import { compile as compileHtmlToText } from 'html-to-text';
import { type TemplateField, TemplateSyntaxError, type TemplateSyntaxIssue } from '../errors.ts';
import {
  type EscapeMode,
  type HandlebarsIssue,
  hasExpressions,
  instantiate,
  precompile,
  type RenderFunction,
  type RenderRuntime,
} from './handlebars.ts';
import { insertOpenPixel, rewriteLinks } from './links.ts';
import { canonicalLocale, selectLocale } from './locale.ts';
import { compileMjml } from './mjml.ts';

export interface EmailContentInput {
  /** MJML source; give either this or `html`. */
  mjml?: string;
  /** Raw HTML source; give either this or `mjml`. */
  html?: string;
  subject: string;
  /** Preview text shown after the subject in inboxes; hidden in the body. */
  preheader?: string;
  /** Text part; generated from the HTML when absent. */
  text?: string;
}

export interface EmailTemplateInput extends EmailContentInput {
  /** Content per BCP 47 locale ("fr", "fr-CA"); the top-level content is the fallback. */
  locales?: Record<string, EmailContentInput>;
}

export interface CompiledLink {
  /** The link as written (entities decoded), Handlebars expressions included. */
  url: string;
  /** Precompiled url-mode template when the URL is personalised, else null. */
  spec: string | null;
  /**
   * True when the link sits inside a block that changes the context ({{#each}}, {{#with}}):
   * re-rendering it from the message's variables alone cannot tell the iterations apart, so a
   * caller that needs the exact URL should keep the one passed to `clickUrl`.
   */
  scoped: boolean;
}

export interface CompiledEmailContent {
  subject: string;
  html: string;
  text: string;
  links: CompiledLink[];
}

/** The stored form: JSON-serialisable, every template a Handlebars spec. */
export interface CompiledEmailTemplate {
  format: 'mauntic.email.v1';
  default: CompiledEmailContent;
  locales: Record<string, CompiledEmailContent>;
}

export interface ContactVars {
  id?: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  locale?: string | null;
  timezone?: string | null;
  /** Custom fields by key. */
  fields?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface CompanyVars {
  name?: string | null;
  domain?: string | null;
  fields?: Record<string, unknown>;
  [field: string]: unknown;
}

/** What a template can read: {{contact.firstName}}, {{contact.fields.plan}}, {{context.orderId}}… */
export interface RenderVars {
  contact: ContactVars;
  company?: CompanyVars | null;
  /** Per-send data given by the caller (a transactional send's context, a journey step's data). */
  context?: Record<string, unknown>;
  message: { id: string };
  unsubscribeUrl?: string;
  preferencesUrl?: string;
}

export interface EmailTracking {
  /** The click-tracking URL for link `index`; `url` is that link as rendered for this message. */
  clickUrl?: (index: number, url: string) => string;
  /** When set, a 1×1 open pixel with this URL is added before </body>. */
  openPixelUrl?: string;
}

export interface RenderEmailOptions {
  /** The locale to render; defaults to the contact's. */
  locale?: string | null;
  /** Omit for previews: links then point at their destinations and no pixel is added. */
  tracking?: EmailTracking;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  /** The locale variant used; null for the default content. */
  locale: string | null;
}

type CompileError = TemplateSyntaxError | ValidationError;

const LINK_PLACEHOLDER = (index: number) => `{{__link ${index}}}`;

const toText = compileHtmlToText({
  // Wrapping positions computed before personalisation would be wrong after it, and could split
  // an expression: leave long lines to the transfer encoding.
  wordwrap: false,
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
  ],
});

const EXPRESSION = /\{\{!--[\s\S]*?--\}\}|\{\{\{[\s\S]*?\}\}\}|\{\{[\s\S]*?\}\}/g;

/** The text part of an HTML template, its Handlebars expressions carried through unchanged. */
export function textFromHtml(html: string): string {
  const nonce = randomBytes(6).toString('hex');
  const expressions: string[] = [];
  const protectedHtml = html.replace(EXPRESSION, (expression) => `@@${nonce}_${expressions.push(expression) - 1}@@`);
  const text = toText(protectedHtml);
  return text.replace(new RegExp(`@@${nonce}_(\\d+)@@`, 'g'), (placeholder, i: string) => {
    return expressions[Number(i)] ?? placeholder;
  });
}

const escapeHtml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** HTML-escapes literal text while leaving {{expressions}} for Handlebars (which escapes values). */
function escapeHtmlOutsideExpressions(source: string): string {
  let out = '';
  let last = 0;
  for (const match of source.matchAll(EXPRESSION)) {
    out += escapeHtml(source.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return out + escapeHtml(source.slice(last));
}

// Zero-width fillers after the preheader keep clients from pulling body text into the preview.
const PREVIEW_FILLER = '&#847;&zwnj;&nbsp;'.repeat(40);

/** Adds the preheader as hidden text at the start of <body>. */
export function insertPreheader(html: string, preheader: string): string {
  const block =
    '<div style="display:none;font-size:1px;line-height:1px;max-height:0px;max-width:0px;opacity:0;overflow:hidden;mso-hide:all;">' +
    `${escapeHtmlOutsideExpressions(preheader)}${PREVIEW_FILLER}</div>`;
  const body = /<body\b[^>]*>/i.exec(html);
  if (!body) return block + html;
  const at = body.index + body[0].length;
  return html.slice(0, at) + block + html.slice(at);
}

/** Marks links that sit inside a context-changing block ({{#each}}, {{#with}}, …). */
function markScopedLinks(ast: hbs.AST.Program, links: CompiledLink[]): void {
  const visit = (node: any, scoped: boolean): void => {
    if (!node || typeof node !== 'object') return;
    if (node.type === 'MustacheStatement' && node.path?.original === '__link') {
      const index = node.params?.[0]?.value;
      const link = typeof index === 'number' ? links[index] : undefined;
      if (link && scoped && link.spec) link.scoped = true;
      return;
    }
    const changesContext = node.type === 'BlockStatement' && !['if', 'unless'].includes(node.path?.original as string);
    for (const key of ['body', 'program', 'inverse']) {
      const child = node[key];
      const childScoped = scoped || (changesContext && key === 'program');
      if (Array.isArray(child)) for (const c of child) visit(c, childScoped);
      else if (child) visit(child, childScoped);
    }
  };
  visit(ast, false);
}

/**
 * The body's links, each precompiled when it holds expressions. A syntax error in one points at
 * the link's place in the source the author wrote.
 */
function compileLinks(
  urls: string[],
  at: { field: TemplateField; locale: string | null; source: string },
): Result<CompiledLink[], TemplateSyntaxError> {
  const links: CompiledLink[] = [];
  for (const url of urls) {
    if (!hasExpressions(url)) {
      links.push({ url, spec: null, scoped: false });
      continue;
    }
    const link = precompile(url, 'url');
    if (!link.ok) {
      const offset = at.source.indexOf(url.slice(0, 40));
      const lines = offset < 0 ? [] : at.source.slice(0, offset).split('\n');
      return fail(
        new TemplateSyntaxError([
          {
            field: at.field,
            locale: at.locale,
            line: Math.max(lines.length, 1),
            column: (lines.at(-1)?.length ?? 0) + 1,
            message: `In link ${url}: ${link.issue.message}`,
          },
        ]),
      );
    }
    links.push({ url, spec: link.spec, scoped: false });
  }
  return ok(links);
}

async function compileContent(
  input: EmailContentInput,
  locale: string | null,
): Promise<Result<CompiledEmailContent, CompileError>> {
  const path = (field: string) => (locale ? ['locales', locale, field] : [field]);
  const issue = (field: TemplateField, found: HandlebarsIssue, prefix = ''): TemplateSyntaxError =>
    new TemplateSyntaxError([{ field, locale, ...found, message: prefix + found.message }]);
  const check = (field: TemplateField, source: string, mode: EscapeMode) => {
    const result = precompile(source, mode);
    return result.ok ? result : { ok: false as const, error: issue(field, result.issue) };
  };

  const mjml = input.mjml?.trim() ? input.mjml : undefined;
  const rawHtml = input.html?.trim() ? input.html : undefined;
  if ((mjml === undefined) === (rawHtml === undefined)) {
    return fail(new ValidationError([{ path: path('mjml'), message: 'Give either mjml or html (exactly one)' }]));
  }
  if (!input.subject?.trim()) return fail(new ValidationError([{ path: path('subject'), message: 'Required' }]));

  const subject = check('subject', input.subject, 'plain');
  if (!subject.ok) return fail(subject.error);
  if (input.preheader !== undefined) {
    const preheader = check('preheader', input.preheader, 'plain');
    if (!preheader.ok) return fail(preheader.error);
  }
  const explicitText = input.text?.trim() ? check('text', input.text, 'plain') : undefined;
  if (explicitText && !explicitText.ok) return fail(explicitText.error);

  const bodyField: TemplateField = mjml !== undefined ? 'mjml' : 'html';
  const source = (mjml ?? rawHtml)!;
  // Template syntax first, against the source the author wrote, so positions point into it.
  const sourceCheck = check(bodyField, source, 'html');
  if (!sourceCheck.ok) return fail(sourceCheck.error);

  let html = source;
  if (mjml !== undefined) {
    const compiled = await compileMjml(mjml);
    if (!compiled.ok) {
      const issues = compiled.issues.map((i): TemplateSyntaxIssue => ({ field: 'mjml', locale, ...i }));
      return fail(new TemplateSyntaxError(issues as [TemplateSyntaxIssue, ...TemplateSyntaxIssue[]]));
    }
    html = compiled.html;
  }

  const rewritten = rewriteLinks(html, { linkUrl: (index) => LINK_PLACEHOLDER(index) });
  const compiledLinks = compileLinks(rewritten.links, { field: bodyField, locale, source });
  if (!compiledLinks.ok) return compiledLinks;
  const links = compiledLinks.value;

  const finalHtml = input.preheader?.trim() ? insertPreheader(rewritten.html, input.preheader) : rewritten.html;
  const htmlSpec = precompile(finalHtml, 'html');
  if (!htmlSpec.ok) return fail(issue(bodyField, htmlSpec.issue, 'In the compiled HTML: '));
  markScopedLinks(htmlSpec.ast, links);

  let text = explicitText;
  if (!text) {
    const generated = precompile(textFromHtml(rewritten.html), 'plain');
    if (!generated.ok) return fail(issue('text', generated.issue, 'In the generated text part: '));
    text = generated;
  }

  return ok({ subject: subject.spec, html: htmlSpec.spec, text: text.spec, links });
}

/** Compiles an email template and its locale variants; syntax errors come back as values. */
export async function compileEmailTemplate(
  input: EmailTemplateInput,
): Promise<Result<CompiledEmailTemplate, CompileError>> {
  const base = await compileContent(input, null);
  if (!base.ok) return base;
  const locales: Record<string, CompiledEmailContent> = {};
  for (const [tag, content] of Object.entries(input.locales ?? {})) {
    const key = canonicalLocale(tag);
    if (!key) return fail(new ValidationError([{ path: ['locales', tag], message: 'Not a valid BCP 47 locale' }]));
    if (locales[key])
      return fail(new ValidationError([{ path: ['locales', tag], message: `Duplicate locale ${key}` }]));
    const compiled = await compileContent(content, key);
    if (!compiled.ok) return compiled;
    locales[key] = compiled.value;
  }
  return ok({ format: 'mauntic.email.v1', default: base.value, locales });
}

interface EmailInstance {
  subject: RenderFunction;
  html: RenderFunction;
  text: RenderFunction;
  links: NonNullable<RenderRuntime['links']>;
}

const instances = new WeakMap<CompiledEmailContent, EmailInstance>();

/** The render functions of one compiled content, instantiated once and kept as long as it is. */
function instanceOf(content: CompiledEmailContent): EmailInstance {
  let instance = instances.get(content);
  if (!instance) {
    instance = {
      subject: instantiate(content.subject),
      html: instantiate(content.html),
      text: instantiate(content.text),
      links: content.links.map((link) => {
        const render = link.spec ? instantiate(link.spec) : null;
        return { url: link.url, render: render && ((context: unknown, data: unknown) => render(context, data as any)) };
      }),
    };
    instances.set(content, instance);
  }
  return instance;
}

function contentFor(compiled: CompiledEmailTemplate, locale: string | null | undefined) {
  const key = selectLocale(Object.keys(compiled.locales), locale);
  return { key, content: key ? compiled.locales[key]! : compiled.default };
}

/** Subjects are one header line: line breaks in data become spaces. */
const oneLine = (value: string): string => value.replace(/[\r\n\t]+/g, ' ').trim();

/** Renders one message. HTML escapes contact data; the subject and text part do not (they are not HTML). */
export function renderEmail(
  compiled: CompiledEmailTemplate,
  vars: RenderVars,
  options: RenderEmailOptions = {},
): RenderedEmail {
  const { key, content } = contentFor(compiled, options.locale ?? vars.contact.locale);
  const instance = instanceOf(content);
  const runtime: RenderRuntime = { links: instance.links, clickUrl: options.tracking?.clickUrl };
  const data = { mauntic: runtime };
  let html = instance.html(vars, data);
  if (options.tracking?.openPixelUrl) html = insertOpenPixel(html, options.tracking.openPixelUrl);
  return {
    subject: oneLine(instance.subject(vars, data)),
    html,
    // Blocks that render nothing leave runs of blank lines behind.
    text: instance
      .text(vars, data)
      .replace(/\n{3,}/g, '\n\n')
      .trim(),
    locale: key,
  };
}

/**
 * The destination of tracked link `index` for a message, re-rendered from its variables when the
 * link is personalised; null when the template has no such link.
 */
export function resolveLink(
  compiled: CompiledEmailTemplate,
  index: number,
  vars: RenderVars,
  locale: string | null = vars.contact.locale ?? null,
): string | null {
  const { content } = contentFor(compiled, locale);
  const link = instanceOf(content).links[index];
  if (!link) return null;
  return link.render ? link.render(vars, { mauntic: {} }) : link.url;
}
