// Who is calling and for which organization: built by the gateway, signed, and verified by
// every subgraph before a resolver runs.
import type { OrganizationId } from './ids.ts';

export const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Contexts that own data; a scope is `<context>:<read|write|admin>`, `*` matches any context. */
export const CONTEXTS = [
  'identity',
  'crm',
  'content',
  'delivery',
  'journey',
  'campaign',
  'analytics',
  'integrations',
] as const;
export type ContextName = (typeof CONTEXTS)[number];
export const ACCESS = ['read', 'write', 'admin'] as const;
export type Access = (typeof ACCESS)[number];
export type Scope = `${ContextName | '*'}:${Access}`;

export const ALL_SCOPES: readonly Scope[] = [...CONTEXTS, '*'].flatMap((c) => ACCESS.map((a) => `${c}:${a}` as Scope));

export function isScope(value: string): value is Scope {
  return (ALL_SCOPES as readonly string[]).includes(value);
}

/** What each role may do. Owners additionally may change other owners (checked by identity). */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  owner: ['*:read', '*:write', '*:admin'],
  admin: ['*:read', '*:write', '*:admin'],
  editor: ['*:read', '*:write'],
  viewer: ['*:read'],
};

const ROLE_RANK: Record<Role, number> = { owner: 3, admin: 2, editor: 1, viewer: 0 };
export const roleAtLeast = (role: Role, minimum: Role) => ROLE_RANK[role] >= ROLE_RANK[minimum];

/** True when `granted` covers `wanted`: same access and the same context or `*`. */
export function scopeCovers(granted: Scope, wanted: Scope): boolean {
  const [gc, ga] = granted.split(':');
  const [wc, wa] = wanted.split(':');
  return ga === wa && (gc === '*' || gc === wc);
}

export const hasScope = (scopes: readonly Scope[], wanted: Scope) => scopes.some((s) => scopeCovers(s, wanted));

export type Actor =
  | { type: 'anonymous' }
  | { type: 'user'; id: string }
  | { type: 'api_key'; id: string; createdBy: string }
  | { type: 'system'; id: string };

export interface RequestContext {
  correlationId: string;
  actor: Actor;
  /** Set for every authenticated caller; all data access is scoped by it. */
  organizationId?: OrganizationId;
  role?: Role;
  scopes: Scope[];
}

export const anonymousContext = (correlationId: string): RequestContext => ({
  correlationId,
  actor: { type: 'anonymous' },
  scopes: [],
});
