import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { authorize } from './authorize.ts';
import { anonymousContext, type RequestContext } from './context.ts';
import type { OrganizationId } from './ids.ts';

const org = '0190a000-0000-7000-8000-000000000001' as OrganizationId;
const editor: RequestContext = {
  correlationId: 'c',
  actor: { type: 'user', id: 'u1' },
  organizationId: org,
  role: 'editor',
  scopes: ['*:read', '*:write'],
};
const apiKey: RequestContext = {
  correlationId: 'c',
  actor: { type: 'api_key', id: 'k1', createdBy: 'u2' },
  organizationId: org,
  scopes: ['crm:read'],
};
const noteInput = z.object({ body: z.string().min(1) });

describe('authorize', () => {
  it('gives the organization and the acting person of a caller holding the scope', () => {
    expect(authorize(editor, 'crm:write')).toEqual({
      ok: true,
      value: { organizationId: org, userId: 'u1', role: 'editor', ctx: editor },
    });
    const byKey = authorize(apiKey, 'crm:read');
    expect(byKey.ok && byKey.value.userId).toBe('u2');
  });

  it('lets any member of an organization in as `member`, whatever its scopes, and nobody else', () => {
    expect(authorize(apiKey, 'member').ok).toBe(true);
    const anonymous = authorize(anonymousContext('c'), 'member');
    expect(!anonymous.ok && anonymous.error.code).toBe('UNAUTHENTICATED');
  });

  it('refuses anonymous callers as unauthenticated and callers without the scope as forbidden', () => {
    const anonymous = authorize(anonymousContext('c'), 'crm:read');
    expect(!anonymous.ok && anonymous.error.code).toBe('UNAUTHENTICATED');
    const forbidden = authorize(apiKey, 'crm:write');
    expect(!forbidden.ok && forbidden.error.code).toBe('FORBIDDEN');
    expect(!forbidden.ok && 'required' in forbidden.error && forbidden.error.required).toBe('crm:write');
  });

  it('validates the input only for a caller it lets in, pointing at the bad field', () => {
    const valid = authorize(editor, 'crm:write', noteInput, { body: 'hi' });
    expect(valid.ok && valid.value.input).toEqual({ body: 'hi' });
    const invalid = authorize(editor, 'crm:write', noteInput, { body: '' });
    expect(!invalid.ok && invalid.error.code).toBe('VALIDATION_FAILED');
    expect(!invalid.ok && 'issues' in invalid.error && invalid.error.issues[0]?.path).toEqual(['input', 'body']);
    const forbidden = authorize(apiKey, 'crm:write', noteInput, { body: '' });
    expect(!forbidden.ok && forbidden.error.code).toBe('FORBIDDEN');
  });
});
