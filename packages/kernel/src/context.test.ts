import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hasScope, isScope, ROLE_SCOPES, roleAtLeast } from './context.ts';
import { unwrap, ValidationError } from './errors.ts';
import { validateInput } from './validation.ts';

describe('scopes and roles', () => {
  it('a wildcard scope covers every context with the same access only', () => {
    expect(hasScope(['*:read'], 'crm:read')).toBe(true);
    expect(hasScope(['*:read'], 'crm:write')).toBe(false);
    expect(hasScope(['crm:write'], 'delivery:write')).toBe(false);
    expect(hasScope(ROLE_SCOPES.viewer, 'identity:admin')).toBe(false);
    expect(hasScope(ROLE_SCOPES.admin, 'identity:admin')).toBe(true);
  });
  it('knows valid scopes and role order', () => {
    expect(isScope('crm:read')).toBe(true);
    expect(isScope('crm:delete')).toBe(false);
    expect(isScope('billing:read')).toBe(false);
    expect(roleAtLeast('owner', 'admin')).toBe(true);
    expect(roleAtLeast('editor', 'admin')).toBe(false);
  });
});

describe('input validation', () => {
  it('points at each bad field under input', () => {
    const result = validateInput(z.object({ email: z.email(), age: z.number().min(0) }), { email: 'x', age: -1 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(ValidationError);
    expect(result.error.issues.map((i) => i.path)).toEqual([
      ['input', 'email'],
      ['input', 'age'],
    ]);
    expect(() => unwrap(result)).toThrow(ValidationError);
  });
});
