// Push notification templates: title, body, string data and an image URL, all personalised.
// Nothing is HTML-escaped (push payloads are plain text); the image URL percent-encodes
// expressions like every URL template.
import { fail, ok, type Result } from '@mauntic/kernel';
import { type TemplateField, TemplateSyntaxError } from '../errors.ts';
import type { RenderVars } from './email.ts';
import { type EscapeMode, instantiate, precompile, type RenderFunction } from './handlebars.ts';

export interface PushTemplateInput {
  title: string;
  body: string;
  /** Key/value data delivered to the app (FCM data values are strings). */
  data?: Record<string, string>;
  imageUrl?: string;
}

export interface CompiledPushTemplate {
  format: 'mauntic.push.v1';
  title: string;
  body: string;
  data: Record<string, string>;
  imageUrl: string | null;
}

export interface RenderedPush {
  title: string;
  body: string;
  data: Record<string, string>;
  imageUrl?: string;
}

export function compilePushTemplate(input: PushTemplateInput): Result<CompiledPushTemplate, TemplateSyntaxError> {
  let failure: TemplateSyntaxError | null = null;
  const spec = (field: TemplateField, source: string, mode: EscapeMode, prefix = ''): string => {
    const result = precompile(source, mode);
    if (result.ok) return result.spec;
    failure ??= new TemplateSyntaxError([
      { field, locale: null, ...result.issue, message: prefix + result.issue.message },
    ]);
    return '';
  };
  const title = spec('title', input.title, 'plain');
  const body = spec('body', input.body, 'plain');
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.data ?? {}))
    data[key] = spec('data', value, 'plain', `data.${key}: `);
  const imageUrl = input.imageUrl?.trim() ? spec('imageUrl', input.imageUrl.trim(), 'url') : null;
  if (failure) return fail(failure);
  return ok({ format: 'mauntic.push.v1', title, body, data, imageUrl });
}

interface PushInstance {
  title: RenderFunction;
  body: RenderFunction;
  data: [string, RenderFunction][];
  imageUrl: RenderFunction | null;
}

const instances = new WeakMap<CompiledPushTemplate, PushInstance>();

export function renderPush(compiled: CompiledPushTemplate, vars: RenderVars): RenderedPush {
  let instance = instances.get(compiled);
  if (!instance) {
    instance = {
      title: instantiate(compiled.title),
      body: instantiate(compiled.body),
      data: Object.entries(compiled.data).map(([key, spec]) => [key, instantiate(spec)]),
      imageUrl: compiled.imageUrl ? instantiate(compiled.imageUrl) : null,
    };
    instances.set(compiled, instance);
  }
  const data = { mauntic: {} };
  const rendered: RenderedPush = {
    title: instance.title(vars, data),
    body: instance.body(vars, data),
    data: Object.fromEntries(instance.data.map(([key, render]) => [key, render(vars, data)])),
  };
  const imageUrl = instance.imageUrl?.(vars, data);
  if (imageUrl) rendered.imageUrl = imageUrl;
  return rendered;
}
