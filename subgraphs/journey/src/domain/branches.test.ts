import { describe, expect, it } from 'vitest';
import { branchFor } from './branches.ts';

const journey = '01900000-0000-7000-8000-0000000000a1';
const contacts = Array.from({ length: 20_000 }, (_, i) => `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`);

describe('split branch assignment', () => {
  it('gives a contact the same branch every time, and can differ between steps', () => {
    const first = contacts.map((c) => branchFor(journey, c, 'split', [50, 50]));
    expect(contacts.map((c) => branchFor(journey, c, 'split', [50, 50]))).toEqual(first);
    expect(contacts.map((c) => branchFor(journey, c, 'other', [50, 50]))).not.toEqual(first);
  });

  it('follows the weights', () => {
    const counts = [0, 0, 0];
    for (const c of contacts) counts[branchFor(journey, c, 'split', [70, 20, 10])]! += 1;
    const shares = counts.map((n) => n / contacts.length);
    expect(shares[0]).toBeCloseTo(0.7, 1);
    expect(shares[1]).toBeCloseTo(0.2, 1);
    expect(shares[2]).toBeCloseTo(0.1, 1);
  });

  it('never picks a branch of weight 0', () => {
    expect(contacts.some((c) => branchFor(journey, c, 'split', [0, 100, 0]) !== 1)).toBe(false);
  });
});
