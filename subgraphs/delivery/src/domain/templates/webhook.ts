// Outbound webhook templates: method, URL template, headers and a JSON body template.
//
// The body template must itself be valid JSON, with expressions only inside string values. It is
// parsed once at compile time and each string with expressions becomes its own template; at send
// time the tree is rebuilt and serialised with JSON.stringify, so no contact value (a quote, a
// backslash, a newline) can change the document's structure. A string that is exactly
// "{{json path}}" inserts the value itself (number, boolean, object, null) instead of text.
// URL expressions are percent-encoded ({{{x}}} inserts raw); header values lose line breaks.
import { fail, ok, type Result, ValidationError } from '@mauntic/kernel';
import { type TemplateField, TemplateSyntaxError } from '../errors.ts';
import type { RenderVars } from './email.ts';
import { hasExpressions, instantiate, precompile, type RenderFunction } from './handlebars.ts';
import { positionAt } from './source-position.ts';

export type WebhookMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS: readonly WebhookMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface WebhookTemplateInput {
  method: WebhookMethod;
  urlTemplate: string;
  headers?: Record<string, string>;
  /** A JSON document; string values may contain expressions. Not allowed for GET. */
  bodyTemplate?: string | null;
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The body as a tree: literal subtrees are kept as values, templated strings as specs. */
export type JsonTemplateNode =
  | { t: 'lit'; v: JsonValue }
  | { t: 'str'; spec: string }
  | { t: 'raw'; spec: string }
  | { t: 'arr'; items: JsonTemplateNode[] }
  | { t: 'obj'; entries: [string, JsonTemplateNode][] };

export interface CompiledWebhookTemplate {
  format: 'mauntic.webhook.v1';
  method: WebhookMethod;
  url: string;
  headers: Record<string, string>;
  body: JsonTemplateNode | null;
}

export interface RenderedWebhook {
  method: WebhookMethod;
  url: string;
  headers: Record<string, string>;
  /** The JSON body, or null when the template has none. */
  body: string | null;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const JSON_VALUE_ONLY = /^\{\{\s*json\s+[^{}]+\}\}$/;

type CompileError = TemplateSyntaxError | ValidationError;

const syntax = (field: TemplateField, line: number, column: number, message: string) =>
  new TemplateSyntaxError([{ field, locale: null, line, column, message }]);

function jsonErrorPosition(source: string, message: string): { line: number; column: number } {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  return position ? positionAt(source, Number(position[1])) : { line: 1, column: 1 };
}

function compileBody(source: string): Result<JsonTemplateNode, TemplateSyntaxError> {
  // Template syntax over the whole document first, so positions point into what the author wrote.
  const whole = precompile(source, 'plain');
  if (!whole.ok) return fail(syntax('body', whole.issue.line, whole.issue.column, whole.issue.message));
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(source) as JsonValue;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const { line, column } = jsonErrorPosition(source, message);
    const hint = hasExpressions(source)
      ? ' (expressions go inside JSON strings: "{{contact.email}}", or "{{json contact.fields.age}}" for a non-string value)'
      : '';
    return fail(syntax('body', line, column, `The body is not valid JSON: ${message}${hint}`));
  }
  let failure: TemplateSyntaxError | null = null;
  const build = (value: JsonValue): JsonTemplateNode => {
    if (typeof value === 'string') {
      if (!hasExpressions(value)) return { t: 'lit', v: value };
      const result = precompile(value, 'plain');
      if (!result.ok) {
        const at = positionAt(source, Math.max(source.indexOf(JSON.stringify(value).slice(1, -1)), 0));
        failure ??= syntax('body', at.line, at.column, `In ${JSON.stringify(value)}: ${result.issue.message}`);
        return { t: 'lit', v: value };
      }
      return { t: JSON_VALUE_ONLY.test(value.trim()) ? 'raw' : 'str', spec: result.spec };
    }
    if (Array.isArray(value)) {
      const items = value.map(build);
      return items.every((i) => i.t === 'lit') ? { t: 'lit', v: value } : { t: 'arr', items };
    }
    if (value && typeof value === 'object') {
      const entries = Object.entries(value).map(([k, v]): [string, JsonTemplateNode] => [k, build(v)]);
      return entries.every(([, n]) => n.t === 'lit') ? { t: 'lit', v: value } : { t: 'obj', entries };
    }
    return { t: 'lit', v: value };
  };
  const tree = build(parsed);
  return failure ? fail(failure) : ok(tree);
}

export function compileWebhookTemplate(input: WebhookTemplateInput): Result<CompiledWebhookTemplate, CompileError> {
  if (!METHODS.includes(input.method)) {
    return fail(new ValidationError([{ path: ['method'], message: `One of ${METHODS.join(', ')}` }]));
  }
  const urlSource = input.urlTemplate.trim();
  if (!/^(https?:\/\/|\{\{)/i.test(urlSource)) {
    return fail(new ValidationError([{ path: ['urlTemplate'], message: 'Must start with http:// or https://' }]));
  }
  const url = precompile(urlSource, 'url');
  if (!url.ok) return fail(syntax('url', url.issue.line, url.issue.column, url.issue.message));

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME.test(name)) {
      return fail(new ValidationError([{ path: ['headers', name], message: 'Not a valid header name' }]));
    }
    const header = precompile(value, 'plain');
    if (!header.ok) {
      const { line, column, message } = header.issue;
      return fail(syntax('headers', line, column, `${name}: ${message}`));
    }
    headers[name] = header.spec;
  }

  let body: JsonTemplateNode | null = null;
  if (input.bodyTemplate?.trim()) {
    if (input.method === 'GET') {
      return fail(new ValidationError([{ path: ['bodyTemplate'], message: 'A GET webhook has no body' }]));
    }
    const compiled = compileBody(input.bodyTemplate);
    if (!compiled.ok) return compiled;
    body = compiled.value;
  }
  return ok({ format: 'mauntic.webhook.v1', method: input.method, url: url.spec, headers, body });
}

type BodyInstance =
  | { t: 'lit'; v: JsonValue }
  | { t: 'str' | 'raw'; render: RenderFunction }
  | { t: 'arr'; items: BodyInstance[] }
  | { t: 'obj'; entries: [string, BodyInstance][] };

interface WebhookInstance {
  url: RenderFunction;
  headers: [string, RenderFunction][];
  body: BodyInstance | null;
}

const instances = new WeakMap<CompiledWebhookTemplate, WebhookInstance>();

function instantiateBody(node: JsonTemplateNode): BodyInstance {
  switch (node.t) {
    case 'lit':
      return node;
    case 'str':
    case 'raw':
      return { t: node.t, render: instantiate(node.spec) };
    case 'arr':
      return { t: 'arr', items: node.items.map(instantiateBody) };
    case 'obj':
      return { t: 'obj', entries: node.entries.map(([k, v]) => [k, instantiateBody(v)]) };
  }
}

function renderBody(node: BodyInstance, vars: RenderVars, data: Record<string, unknown>): JsonValue {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'str':
      return node.render(vars, data);
    case 'raw':
      // The json helper wrote JSON.stringify output; reading it back yields the value itself.
      return JSON.parse(node.render(vars, data) || 'null') as JsonValue;
    case 'arr':
      return node.items.map((item) => renderBody(item, vars, data));
    case 'obj':
      return Object.fromEntries(node.entries.map(([k, v]) => [k, renderBody(v, vars, data)]));
  }
}

/** Renders the request; fails (as a value) when the rendered URL is not an absolute http(s) URL. */
export function renderWebhook(
  compiled: CompiledWebhookTemplate,
  vars: RenderVars,
): Result<RenderedWebhook, ValidationError> {
  let instance = instances.get(compiled);
  if (!instance) {
    instance = {
      url: instantiate(compiled.url),
      headers: Object.entries(compiled.headers).map(([name, spec]) => [name, instantiate(spec)]),
      body: compiled.body ? instantiateBody(compiled.body) : null,
    };
    instances.set(compiled, instance);
  }
  const data = { mauntic: {} };
  const url = instance.url(vars, data).trim();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail(new ValidationError([{ path: ['url'], message: `The rendered URL is not valid: ${url}` }]));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return fail(new ValidationError([{ path: ['url'], message: `The rendered URL is not http(s): ${url}` }]));
  }
  const headers = Object.fromEntries(
    instance.headers.map(([name, render]) => [
      name,
      render(vars, data)
        .replace(/[\r\n]+/g, ' ')
        .trim(),
    ]),
  );
  const body = instance.body ? JSON.stringify(renderBody(instance.body, vars, data)) : null;
  return ok({ method: compiled.method, url: parsed.href, headers, body });
}
