// Checks contact input (standard properties, custom fields, tags) and turns it into column
// values. Every problem is collected with its path, so a client can show them all at once.
import type { FieldIssue } from '@mauntic/kernel';
import { z } from 'zod';
import {
  checkFieldValue,
  type FieldDefinition,
  normalizeLocale,
  normalizePhone,
  normalizeTimezone,
} from '../domain/field-types.ts';

export interface ContactInput {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  timezone?: string | null;
  locale?: string | null;
  ownerId?: string | null;
  stageId?: string | null;
  /** Custom field values by key; null clears one. */
  fields?: Record<string, unknown> | null;
  /** Replaces the contact's tags. */
  tags?: string[] | null;
}

export interface ContactValues {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  timezone?: string | null;
  locale?: string | null;
  ownerId?: string | null;
  stageId?: string | null;
  /** Set keys; null values mean "remove this key". */
  fields?: Record<string, unknown>;
  tags?: string[];
}

const emailSchema = z.email().max(254);
const uuidSchema = z.uuid();
const MAX_NAME = 255;
const MAX_TAG = 64;

export const normalizeTag = (tag: string) => tag.trim().toLowerCase();

export function checkContactInput(
  input: ContactInput,
  definitions: Map<string, FieldDefinition>,
  root: string[],
  options: { creating: boolean },
): { values: ContactValues; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const values: ContactValues = {};
  const issue = (path: string[], message: string) => issues.push({ path: [...root, ...path], message });
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : v);

  if (input.email !== undefined) {
    const email = text(input.email);
    if (email === null || email === '') values.email = null;
    else if (emailSchema.safeParse(email).success) values.email = email as string;
    else issue(['email'], 'must be an email address');
  }
  for (const key of ['firstName', 'lastName'] as const) {
    const v = text(input[key]);
    if (v === undefined) continue;
    if (v === null || v === '') values[key] = null;
    else if (typeof v !== 'string' || v.length > MAX_NAME)
      issue([key], `must be text of at most ${MAX_NAME} characters`);
    else values[key] = v;
  }
  const normalized: [key: 'phone' | 'timezone' | 'locale', fn: (s: string) => string | null, message: string][] = [
    ['phone', normalizePhone, 'must be a phone number in international form (E.164, e.g. +14155550100)'],
    ['timezone', normalizeTimezone, 'must be an IANA time zone, e.g. Europe/Paris'],
    ['locale', normalizeLocale, 'must be a BCP 47 locale, e.g. fr-FR'],
  ];
  for (const [key, fn, message] of normalized) {
    const v = text(input[key]);
    if (v === undefined) continue;
    if (v === null || v === '') values[key] = null;
    else {
      const n = typeof v === 'string' ? fn(v) : null;
      if (n) values[key] = n;
      else issue([key], message);
    }
  }
  for (const key of ['ownerId', 'stageId'] as const) {
    const v = input[key];
    if (v === undefined) continue;
    if (v === null) values[key] = null;
    else if (uuidSchema.safeParse(v).success) values[key] = v;
    else issue([key], 'must be an id');
  }
  if (input.tags !== undefined) {
    const tags = [...new Set((input.tags ?? []).map(normalizeTag).filter(Boolean))];
    const long = tags.find((t) => t.length > MAX_TAG);
    if (long) issue(['tags'], `tags are at most ${MAX_TAG} characters`);
    else values.tags = tags;
  }

  const fields: Record<string, unknown> = {};
  const given = input.fields ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) issue(['fields'], 'must be an object of field keys to values');
  for (const [key, raw] of typeof given === 'object' && !Array.isArray(given) ? Object.entries(given) : []) {
    const def = definitions.get(key);
    if (!def) {
      issue(['fields', key], 'is not a contact field of this organization');
      continue;
    }
    const check = checkFieldValue(def, raw);
    if (check.ok) fields[key] = check.value;
    else issue(['fields', key], check.message);
  }
  if (options.creating) {
    for (const def of definitions.values())
      if (def.required && (fields[def.key] === undefined || fields[def.key] === null))
        issue(['fields', def.key], 'is required');
  } else {
    for (const [key, v] of Object.entries(fields))
      if (v === null && definitions.get(key)?.required) issue(['fields', key], 'is required');
  }
  if (Object.keys(fields).length) values.fields = fields;
  return { values, issues };
}
