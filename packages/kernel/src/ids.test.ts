import { version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { isUuid, namedId, newId } from './ids.ts';

describe('namedId', () => {
  const namespace = newId();
  const at = new Date('2026-12-01T10:00:00.123Z');

  it('is the same UUID v7 for the same namespace, name and time, and another for any other', () => {
    const id = namedId(namespace, 'm1', at);
    expect(isUuid(id) && version(id)).toBe(7);
    expect(id.replace(/-/g, '')[16]).toMatch(/[89ab]/); // the RFC variant
    expect(namedId(namespace, 'm1', new Date(at))).toBe(id);
    const others = [
      namedId(namespace, 'm2', at),
      namedId(newId(), 'm1', at),
      namedId(namespace, 'm1', new Date(at.getTime() + 1)),
    ];
    expect(new Set([id, ...others]).size).toBe(4);
  });

  it('carries the time in its first 48 bits, so it sorts with newId by time', () => {
    const id = namedId(namespace, 'm1', at);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at.getTime());
    expect([newId(), namedId(namespace, 'x', at)].sort()[0]).toBe(namedId(namespace, 'x', at));
  });
});
