// Branded ids: a UserId can't be passed where an OrganizationId is expected.
import { validate as uuidValidate, v5 as uuidv5, v7 as uuidv7 } from 'uuid';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type OrganizationId = Brand<string, 'OrganizationId'>;
export type UserId = Brand<string, 'UserId'>;
export type ApiKeyId = Brand<string, 'ApiKeyId'>;
export type EventId = Brand<string, 'EventId'>;

/** A new time-ordered id (UUID v7): sorts by creation time, good for btree indexes and keyset paging. */
export function newId<T extends string = string>(): T {
  return uuidv7() as T;
}

/**
 * A UUID v7 that is the same every time for the same name in the same namespace (a UUID) at the
 * same time: the milliseconds of `at`, then bits of the name's UUID v5 hash where v7 has random
 * ones. An event that may be published more than once for one cause keeps one id, so consumers,
 * which apply an event id once, apply it once; and it still sorts by time as event ids do.
 */
export function namedId<T extends string = string>(namespace: string, name: string, at: Date): T {
  const bytes = uuidv5(name, namespace, new Uint8Array(16));
  const ms = at.getTime();
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as T;
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidValidate(value);
}
