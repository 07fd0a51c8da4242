// Custom field types and how their values are checked and stored. Values live in a JSONB map
// per contact or company (no column per field, so no limit on how many fields exist); each type
// has one canonical JSON form, which the segment compiler casts back when it filters.
import { parsePhoneNumberWithError } from 'libphonenumber-js';
import { z } from 'zod';
import { isCountryCode } from './countries.ts';

export const FIELD_TYPES = [
  'text',
  'textarea',
  'number',
  'boolean',
  'date',
  'datetime',
  'time',
  'email',
  'url',
  'tel',
  'select',
  'multiselect',
  'country',
  'region',
  'timezone',
  'locale',
  'lookup',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const FIELD_ENTITIES = ['contact', 'company'] as const;
export type FieldEntity = (typeof FIELD_ENTITIES)[number];

export interface FieldOptions {
  /** number: digits after the decimal point the value is rounded to. */
  scale?: number;
  /** select, multiselect, lookup: the allowed values (lookup: suggestions only). */
  choices?: string[];
}

export interface FieldDefinition {
  key: string;
  label: string;
  entity: FieldEntity;
  type: FieldType;
  options: FieldOptions;
  required: boolean;
}

/** The JSON a value is stored as. */
export type FieldValue = string | number | boolean | string[];

export type FieldCheck = { ok: true; value: FieldValue | null } | { ok: false; message: string };

export const FIELD_KEY = /^[a-z][a-z0-9_]{0,62}$/;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;
const REGION = /^[A-Z]{2}-[A-Z0-9]{1,3}$/;
const MAX_TEXT = 255;
const MAX_TEXTAREA = 65_535;
const timeZones = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);

const isRealDate = (s: string) => {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
};

const bad = (message: string): FieldCheck => ({ ok: false, message });
const good = (value: FieldValue | null): FieldCheck => ({ ok: true, value });

export function normalizeTimezone(value: string): string | null {
  return timeZones.has(value) ? value : null;
}

export function normalizeLocale(value: string): string | null {
  try {
    const [canonical] = Intl.getCanonicalLocales(value.replace('_', '-'));
    return canonical ?? null;
  } catch {
    return null;
  }
}

export function normalizePhone(value: string): string | null {
  try {
    const phone = parsePhoneNumberWithError(value);
    return phone.isPossible() ? phone.number : null;
  } catch {
    return null;
  }
}

/**
 * Checks a value against its field and returns the stored form. `null` and `''` clear the
 * field (refused for required fields).
 */
export function checkFieldValue(
  field: Pick<FieldDefinition, 'type' | 'options' | 'required'>,
  raw: unknown,
): FieldCheck {
  if (raw === null || raw === undefined || raw === '' || (Array.isArray(raw) && raw.length === 0)) {
    return field.required ? bad('is required') : good(null);
  }
  const text =
    typeof raw === 'string'
      ? raw.trim()
      : typeof raw === 'number' || typeof raw === 'boolean'
        ? String(raw)
        : undefined;
  return CHECKS[field.type]({ raw, text }, field.options);
}

/** A value given for a field: as given, and as trimmed text when it is a string, number or boolean. */
interface GivenValue {
  raw: unknown;
  text: string | undefined;
}

const checkText =
  (max: number) =>
  ({ text }: GivenValue): FieldCheck => {
    if (text === undefined) return bad('must be text');
    return text.length > max ? bad(`must be at most ${max} characters`) : good(text);
  };

function checkNumber({ raw, text }: GivenValue, options: FieldOptions): FieldCheck {
  const n =
    typeof raw === 'number'
      ? raw
      : text !== undefined && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)
        ? Number(text)
        : Number.NaN;
  if (!Number.isFinite(n)) return bad('must be a number');
  const factor = 10 ** (options.scale ?? 0);
  return good(Math.round(n * factor) / factor);
}

function checkBoolean({ raw, text }: GivenValue): FieldCheck {
  if (typeof raw === 'boolean') return good(raw);
  const t = text?.toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return good(true);
  if (t === 'false' || t === '0' || t === 'no') return good(false);
  return bad('must be true or false');
}

function checkDatetime({ text }: GivenValue): FieldCheck {
  const d = text && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  return Number.isNaN(d.getTime()) ? bad('must be an ISO-8601 date-time') : good(d.toISOString());
}

function checkUrl({ text }: GivenValue): FieldCheck {
  try {
    const url = new URL(text ?? '');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad('must be an http(s) URL');
    return text!.length > 2048 ? bad('must be at most 2048 characters') : good(url.toString());
  } catch {
    return bad('must be a URL');
  }
}

function checkSelect({ text }: GivenValue, options: FieldOptions): FieldCheck {
  if (text === undefined) return bad('must be one of the choices');
  return options.choices?.includes(text) ? good(text) : bad(`must be one of: ${(options.choices ?? []).join(', ')}`);
}

function checkMultiselect({ raw }: GivenValue, options: FieldOptions): FieldCheck {
  const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split('|') : undefined;
  if (!values || values.some((v) => typeof v !== 'string')) return bad('must be a list of choices');
  const picked = [...new Set((values as string[]).map((v) => v.trim()).filter(Boolean))];
  const unknown = picked.filter((v) => !options.choices?.includes(v));
  return unknown.length ? bad(`has values that are not choices: ${unknown.join(', ')}`) : good(picked);
}

function checkRegion({ text }: GivenValue): FieldCheck {
  const code = text?.toUpperCase();
  return code && REGION.test(code) && isCountryCode(code.slice(0, 2))
    ? good(code)
    : bad('must be an ISO 3166-2 region code, e.g. US-CA');
}

/** A value some normalizer brings to its stored form, or refuses with `message`. */
const checkNormalized =
  (normalize: (text: string) => string | null, message: string) =>
  ({ text }: GivenValue): FieldCheck => {
    const value = text ? normalize(text) : null;
    return value ? good(value) : bad(message);
  };

/** How each type checks a (non-empty) value. */
const CHECKS: Record<FieldType, (value: GivenValue, options: FieldOptions) => FieldCheck> = {
  text: checkText(MAX_TEXT),
  textarea: checkText(MAX_TEXTAREA),
  lookup: checkText(MAX_TEXT),
  number: checkNumber,
  boolean: checkBoolean,
  date: ({ text }) => (text && DATE.test(text) && isRealDate(text) ? good(text) : bad('must be a date (YYYY-MM-DD)')),
  datetime: checkDatetime,
  time: ({ text }) =>
    text && TIME.test(text) ? good(text.length === 5 ? `${text}:00` : text) : bad('must be a time (HH:MM or HH:MM:SS)'),
  email: ({ text }) => {
    const email = z.email().max(254).safeParse(text);
    return email.success ? good(email.data) : bad('must be an email address');
  },
  url: checkUrl,
  tel: checkNormalized(normalizePhone, 'must be a phone number in international form (E.164, e.g. +14155550100)'),
  select: checkSelect,
  multiselect: checkMultiselect,
  country: checkNormalized(
    (text) => (isCountryCode(text.toUpperCase()) ? text.toUpperCase() : null),
    'must be an ISO 3166-1 alpha-2 country code',
  ),
  region: checkRegion,
  timezone: checkNormalized(normalizeTimezone, 'must be an IANA time zone, e.g. Europe/Paris'),
  locale: checkNormalized(normalizeLocale, 'must be a BCP 47 locale, e.g. fr-FR'),
};

/** Which JSON type a stored value has, for the SQL cast in filters. */
export const SQL_KIND: Record<FieldType, 'text' | 'numeric' | 'boolean' | 'date' | 'timestamptz' | 'time' | 'array'> = {
  text: 'text',
  textarea: 'text',
  number: 'numeric',
  boolean: 'boolean',
  date: 'date',
  datetime: 'timestamptz',
  time: 'time',
  email: 'text',
  url: 'text',
  tel: 'text',
  select: 'text',
  multiselect: 'array',
  country: 'text',
  region: 'text',
  timezone: 'text',
  locale: 'text',
  lookup: 'text',
};
