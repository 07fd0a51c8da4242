// The Handlebars dialect every delivery template is written in: one isolated environment with the
// platform's helpers, precompilation to a storable spec (syntax errors as values with line and
// column), and instantiation of a stored spec into a render function.
//
// Three output contexts, chosen when the template is compiled:
//   html  {{x}} is HTML-escaped, {{{x}}} is raw (Handlebars' default).
//   plain nothing is escaped (subjects, text parts, SMS, push, webhook headers and JSON strings).
//   url   {{x}} is percent-encoded (encodeURIComponent), {{{x}}} is raw, so contact data cannot add
//         query parameters or path segments to a link or a webhook URL.
//
// Partials and decorators are refused (they would fail or run arbitrary registrations at send
// time), and so is any helper that is not in KNOWN_HELPERS: a typo is a save-time error with a
// position, never a per-message failure.
import Handlebars from 'handlebars';

export type EscapeMode = 'html' | 'plain' | 'url';

export interface HandlebarsIssue {
  line: number;
  column: number;
  message: string;
}

export type PrecompileResult = { ok: true; spec: string; ast: hbs.AST.Program } | { ok: false; issue: HandlebarsIssue };

/** Runtime data the renderer passes to the internal helpers (`@mauntic` inside templates). */
export interface RenderRuntime {
  links?: ReadonlyArray<{ url: string; render: ((context: unknown, data: unknown) => string) | null }>;
  clickUrl?: (index: number, url: string) => string;
}

export const handlebars = Handlebars.create();

const BUILTIN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup', 'log'] as const;

const isEmpty = (value: unknown): boolean =>
  value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);

const toText = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

/** Helpers receive Handlebars' options object last; a helper called without arguments gets only that. */
const argsOf = (args: unknown[]): unknown[] => args.slice(0, -1);

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_STYLES = new Set(['full', 'long', 'medium', 'short']);
const formatters = new Map<string, Intl.DateTimeFormat>();

function dateFormatter(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat(locale, options);
    } catch {
      // An unknown locale or time zone in contact data must not fail a send: fall back to en/UTC.
      formatter = new Intl.DateTimeFormat('en', { ...options, timeZone: 'UTC' });
    }
    if (formatters.size > 1000) formatters.clear();
    formatters.set(key, formatter);
  }
  return formatter;
}

/**
 * {{date value}} / {{date value "long"}} / {{date value dateStyle="short" timeStyle="short"}}.
 * The locale and time zone default to the contact's (`locale=`, `timeZone=` override them). A
 * date-only value ("1990-05-17", a birthday field) is formatted as that calendar day, never
 * shifted by the time zone. An unparseable value renders empty.
 */
function dateHelper(...args: unknown[]): string {
  const options = args.at(-1) as Handlebars.HelperOptions;
  const [value, styleArg] = argsOf(args);
  const style = typeof styleArg === 'string' ? styleArg : undefined;
  const root = (options.data?.root ?? {}) as { contact?: { locale?: unknown; timezone?: unknown } };
  if (isEmpty(value)) return '';
  const dateOnly = typeof value === 'string' && DATE_ONLY.test(value);
  const date = value instanceof Date ? value : new Date(typeof value === 'number' ? value : String(value));
  if (Number.isNaN(date.getTime())) return '';
  const hash = options.hash as Record<string, unknown>;
  const locale = toText(hash.locale) || toText(root.contact?.locale) || 'en';
  const timeZone = dateOnly ? 'UTC' : toText(hash.timeZone) || toText(root.contact?.timezone) || 'UTC';
  const format: Intl.DateTimeFormatOptions = { timeZone };
  const dateStyle = toText(hash.dateStyle) || style || (hash.timeStyle ? '' : 'medium');
  if (DATE_STYLES.has(dateStyle)) format.dateStyle = dateStyle as Intl.DateTimeFormatOptions['dateStyle'];
  const timeStyle = toText(hash.timeStyle);
  if (!dateOnly && DATE_STYLES.has(timeStyle)) format.timeStyle = timeStyle as Intl.DateTimeFormatOptions['timeStyle'];
  if (!format.dateStyle && !format.timeStyle) format.dateStyle = 'medium';
  return dateFormatter(locale, format).format(date);
}

const HELPERS: Record<string, (...args: any[]) => unknown> = {
  /** {{default contact.firstName "there"}}: the first argument that is not empty. */
  default: (...args: unknown[]) => argsOf(args).find((v) => !isEmpty(v)) ?? '',
  upper: (...args: unknown[]) => toText(argsOf(args)[0]).toUpperCase(),
  lower: (...args: unknown[]) => toText(argsOf(args)[0]).toLowerCase(),
  date: dateHelper,
  /** {{#if (eq contact.fields.plan "pro")}}: equal, or equal as text (custom fields are often strings). */
  eq: (...args: unknown[]) => {
    const [a, b] = argsOf(args);
    return a === b || (a !== undefined && a !== null && b !== undefined && b !== null && String(a) === String(b));
  },
  /** {{json value}}: the value as JSON (webhook bodies use it to insert numbers, booleans and objects). */
  json: (...args: unknown[]) => JSON.stringify(argsOf(args)[0] ?? null),
  /** Internal: wraps every {{expression}} of a url-mode template. */
  __enc: (...args: unknown[]) => encodeURIComponent(toText(argsOf(args)[0])),
  /** Internal: the href of tracked link N, either its click-tracking URL or the rendered original. */
  __link(this: unknown, index: unknown, options: Handlebars.HelperOptions) {
    const runtime = options?.data?.mauntic as RenderRuntime | undefined;
    const link = typeof index === 'number' ? runtime?.links?.[index] : undefined;
    if (!link || !runtime) return '';
    const url = link.render ? link.render(this, options.data) : link.url;
    return runtime.clickUrl ? runtime.clickUrl(index as number, url) : url;
  },
};

for (const [name, helper] of Object.entries(HELPERS)) handlebars.registerHelper(name, helper);

/** Helpers a template may call; anything else is a save-time error. */
export const KNOWN_HELPERS: Readonly<Record<string, true>> = Object.fromEntries(
  [...BUILTIN_HELPERS, ...Object.keys(HELPERS)].map((name) => [name, true] as const),
);

function issueFromError(error: unknown): HandlebarsIssue {
  const e = error as { message?: string; lineNumber?: unknown; column?: unknown };
  const raw = typeof e.message === 'string' ? e.message : String(error);
  if (typeof e.lineNumber === 'number') {
    // Handlebars.Exception from the compiler or the block checks: "<message> - 1:3".
    const message = raw.replace(/ - \d+:\d+$/, '');
    return { line: e.lineNumber, column: (typeof e.column === 'number' ? e.column : 0) + 1, message };
  }
  // A jison parse error only names the line in its text; the lexer still holds the location of
  // the token it failed on (parsing is synchronous, so it is the failure we just caught).
  const loc = (
    Handlebars as unknown as { Parser: { lexer: { yylloc?: { first_line: number; first_column: number } } } }
  ).Parser.lexer.yylloc;
  const lineFromText = Number(/on line (\d+)/.exec(raw)?.[1] ?? 1);
  const expecting = /Expecting (.+), got '([^']+)'/.exec(raw);
  let message = raw.split('\n')[0] ?? raw;
  if (expecting) {
    message =
      expecting[2] === 'EOF'
        ? `Unexpected end of template: a block or an expression is not closed (expected ${expecting[1]})`
        : `Unexpected ${expecting[2]} (expected ${expecting[1]})`;
  } else if (/Lexical error/.test(raw)) {
    message = 'Unrecognised text inside an expression';
  }
  return { line: loc?.first_line ?? lineFromText, column: (loc?.first_column ?? 0) + 1, message };
}

function at(node: hbs.AST.Node, message: string): HandlebarsIssue {
  return { line: node.loc?.start.line ?? 1, column: (node.loc?.start.column ?? 0) + 1, message };
}

/** Refuses partials and decorators; returns the first offending node as an issue. */
function checkNodes(program: hbs.AST.Program): HandlebarsIssue | null {
  let found: HandlebarsIssue | null = null;
  const visit = (node: any): void => {
    if (found || !node || typeof node !== 'object') return;
    switch (node.type) {
      case 'PartialStatement':
      case 'PartialBlockStatement':
        found = at(node, 'Partials ({{> name}}) are not supported in templates');
        return;
      case 'Decorator':
      case 'DecoratorBlock':
        found = at(node, 'Decorators ({{* name}}) are not supported in templates');
        return;
    }
    for (const key of ['body', 'program', 'inverse', 'params', 'path', 'hash', 'pairs', 'value']) {
      const child = node[key];
      if (Array.isArray(child)) for (const c of child) visit(c);
      else if (child && typeof child === 'object') visit(child);
    }
  };
  visit(program);
  return found;
}

const encPath = (loc: hbs.AST.SourceLocation) =>
  ({ type: 'PathExpression', data: false, depth: 0, parts: ['__enc'], original: '__enc', loc }) as any;

/** url mode: {{expr args}} becomes {{__enc (expr args)}} and {{path}} becomes {{__enc path}}. */
function wrapForUrl(node: any): void {
  if (!node || typeof node !== 'object') return;
  if (node.type === 'MustacheStatement' && node.escaped) {
    const hasArgs = node.params.length > 0 || (node.hash && node.hash.pairs.length > 0);
    const param = hasArgs
      ? { type: 'SubExpression', path: node.path, params: node.params, hash: node.hash, loc: node.loc }
      : node.path;
    node.path = encPath(node.loc);
    node.params = [param];
    node.hash = undefined;
    return;
  }
  for (const key of ['body', 'program', 'inverse']) {
    const child = node[key];
    if (Array.isArray(child)) for (const c of child) wrapForUrl(c);
    else if (child) wrapForUrl(child);
  }
}

/** Parses and precompiles a template; the spec is JavaScript source meant to be stored and instantiated. */
export function precompile(source: string, mode: EscapeMode): PrecompileResult {
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parseWithoutProcessing(source);
  } catch (error) {
    return { ok: false, issue: issueFromError(error) };
  }
  const refused = checkNodes(ast);
  if (refused) return { ok: false, issue: refused };
  if (mode === 'url') wrapForUrl(ast);
  try {
    const spec = Handlebars.precompile(ast, {
      knownHelpers: KNOWN_HELPERS,
      knownHelpersOnly: true,
      noEscape: mode !== 'html',
      preventIndent: true,
    }) as unknown as string;
    return { ok: true, spec, ast };
  } catch (error) {
    return { ok: false, issue: issueFromError(error) };
  }
}

export type RenderFunction = (context: unknown, data?: Record<string, unknown>) => string;

/**
 * Turns a stored spec into a render function. The spec is code produced by `precompile` and
 * stored by the platform; it must never come from a client.
 */
export function instantiate(spec: string): RenderFunction {
  const templateSpec = new Function(`return ${spec};`)();
  const template = handlebars.template(templateSpec);
  return (context, data) => template(context, data ? { data } : undefined);
}

/** True when the source contains a Handlebars expression (so it must be rendered, not copied). */
export const hasExpressions = (source: string): boolean => source.includes('{{');
