// Branded ids: a UserId can't be passed where an OrganizationId is expected.
import { validate as uuidValidate, v7 as uuidv7 } from 'uuid';

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

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidValidate(value);
}
