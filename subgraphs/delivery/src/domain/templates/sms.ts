// SMS templates and the segment arithmetic of 3GPP TS 23.038 / 23.040: a message that fits the
// GSM 7-bit default alphabet (basic set, extension characters counting two septets) is sent as
// GSM-7, 160 septets in one segment or 153 per segment when concatenated (the UDH takes the
// rest); anything else is UCS-2 (UTF-16), 70 code units alone or 67 per concatenated segment.
// An escape pair or a surrogate pair is never split across segments.
import { fail, ok, type Result } from '@mauntic/kernel';
import { TemplateSyntaxError } from '../errors.ts';
import type { RenderVars } from './email.ts';
import { instantiate, precompile, type RenderFunction } from './handlebars.ts';

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsSegments {
  encoding: SmsEncoding;
  segments: number;
  /** Characters (Unicode code points) in the text. */
  characters: number;
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
}

// The GSM 03.38 basic character set, in table order, without 0x1B (the escape to the extension table).
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
// The extension table: each is sent as ESC + character, two septets.
const GSM_EXTENSION = new Set('\f^{}\\[~]|€');

const SINGLE = { 'GSM-7': 160, 'UCS-2': 70 } as const;
const CONCATENATED = { 'GSM-7': 153, 'UCS-2': 67 } as const;

function pack(costs: number[], encoding: SmsEncoding): number {
  const total = costs.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  if (total <= SINGLE[encoding]) return 1;
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > CONCATENATED[encoding]) {
      segments++;
      used = cost;
    } else {
      used += cost;
    }
  }
  return segments;
}

/** The encoding and number of segments a text is sent in. An empty text is zero segments. */
export function smsSegments(text: string): SmsSegments {
  const chars = [...text];
  let gsm = true;
  const septets: number[] = [];
  for (const c of chars) {
    if (GSM_BASIC.has(c)) septets.push(1);
    else if (GSM_EXTENSION.has(c)) septets.push(2);
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) {
    return {
      encoding: 'GSM-7',
      segments: pack(septets, 'GSM-7'),
      characters: chars.length,
      units: septets.length && septets.reduce((a, b) => a + b, 0),
    };
  }
  const codeUnits = chars.map((c) => c.length);
  return { encoding: 'UCS-2', segments: pack(codeUnits, 'UCS-2'), characters: chars.length, units: text.length };
}

export interface CompiledSmsTemplate {
  format: 'mauntic.sms.v1';
  body: string;
}

export interface RenderedSms extends SmsSegments {
  body: string;
}

export function compileSmsTemplate(body: string): Result<CompiledSmsTemplate, TemplateSyntaxError> {
  const result = precompile(body, 'plain');
  if (!result.ok) return fail(new TemplateSyntaxError([{ field: 'body', locale: null, ...result.issue }]));
  return ok({ format: 'mauntic.sms.v1', body: result.spec });
}

const instances = new WeakMap<CompiledSmsTemplate, RenderFunction>();

/** Renders the text (nothing is escaped: SMS is plain text) and counts its segments. */
export function renderSms(compiled: CompiledSmsTemplate, vars: RenderVars): RenderedSms {
  let render = instances.get(compiled);
  if (!render) {
    render = instantiate(compiled.body);
    instances.set(compiled, render);
  }
  const body = render(vars, { mauntic: {} });
  return { body, ...smsSegments(body) };
}
