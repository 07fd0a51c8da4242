import { describe, expect, it } from 'vitest';
import { passwordWeaknesses } from './password.ts';
import { canGrantRole } from './roles.ts';
import { slugify } from './slug.ts';

describe('password rules', () => {
  it('accepts a long, varied password', () => {
    expect(passwordWeaknesses('correct horse battery staple')).toEqual([]);
  });
  it('rejects short, common and self-describing passwords with a reason each', () => {
    expect(passwordWeaknesses('short1')).toContain('use at least 10 characters');
    expect(passwordWeaknesses('Password123')).toContain('this password is too common');
    expect(passwordWeaknesses('aaaaaaaaaaaa')).toContain('use more different characters');
    expect(passwordWeaknesses('ada.lovelace-2026!', { email: 'ada.lovelace@example.com' })).toContain(
      'do not use your email address',
    );
    expect(passwordWeaknesses('grace hopper rules', { name: 'Grace Hopper' })).toContain('do not use your name');
  });
});

describe('roles', () => {
  it('lets only owners grant owner, and admins grant the rest', () => {
    expect(canGrantRole('owner', 'owner')).toBe(true);
    expect(canGrantRole('admin', 'owner')).toBe(false);
    expect(canGrantRole('admin', 'editor')).toBe(true);
    expect(canGrantRole('editor', 'viewer')).toBe(false);
  });
});

describe('slugify', () => {
  it('makes a URL-safe slug', () => {
    expect(slugify('Acme & Co. Ünïcode')).toBe('acme-co-unicode');
    expect(slugify('***')).toBe('org');
  });
});
