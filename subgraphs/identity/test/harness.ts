// Identity use cases on a real database (Postgres or PGlite), and callers as the gateway builds
// them: from a session's access token, or from an API key that identity verified.
import { randomBytes } from 'node:crypto';
import {
  type DomainError,
  newId,
  type OrganizationId,
  type RequestContext,
  type Result,
  ROLE_SCOPES,
  unwrap,
} from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, openDatabase, runMigrations, verifyAccessToken } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { type ExecutionResult, graphql } from 'graphql';
import type { IdentityDeps } from '../src/app/deps.ts';
import { createIdentityServices, type IdentityServices } from '../src/app/services.ts';
import type { Session } from '../src/app/sessions.ts';
import { schema } from '../src/graphql/index.ts';
import { identityModule } from '../src/module.ts';

export const DATABASES = [
  ['postgres', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 5 })],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

export const STRONG_PASSWORD = 'correct horse battery staple';
export const uniqueEmail = (label = 'user') => `${label}.${randomBytes(6).toString('hex')}@example.com`;

const logger = createLogger('identity-test', 'silent');

export async function openIdentity(open: () => Promise<DatabaseHandle>) {
  const handle = await open();
  await runMigrations(handle, identityModule().migrations);
  const deps: IdentityDeps = {
    handle,
    logger,
    jwtKey: randomBytes(32),
    accessTokenTtlSeconds: 900,
    refreshTokenTtlSeconds: 3600,
    invitationTtlSeconds: 3600,
  };
  const services = createIdentityServices(deps);
  return {
    handle,
    deps,
    services,
    /** The same use cases with other settings (e.g. invitations that expire at once). */
    withSettings: (settings: Partial<IdentityDeps>) => createIdentityServices({ ...deps, ...settings }),
    close: () => handle.close(),
  };
}

export type Identity = Awaited<ReturnType<typeof openIdentity>>;

export const anonymous = (): RequestContext => ({ correlationId: newId(), actor: { type: 'anonymous' }, scopes: [] });

/** The caller a session's access token stands for, as the gateway derives it from the verified token. */
export async function userContext(identity: Identity, session: Session): Promise<RequestContext> {
  const check = await verifyAccessToken(session.accessToken, identity.deps.jwtKey);
  if (!check.ok) throw new Error(`the session's access token does not verify: ${check.reason}`);
  const { userId, organizationId, role } = check.claims;
  return {
    correlationId: newId(),
    actor: { type: 'user', id: userId },
    organizationId: organizationId as OrganizationId,
    role,
    scopes: [...ROLE_SCOPES[role]],
  };
}

/** The caller an API key stands for, as the gateway derives it from identity's verification. */
export async function apiKeyContext(identity: Identity, secret: string): Promise<RequestContext> {
  const principal = await identity.services.verifyApiKey(secret);
  if (!principal) throw new Error('the API key does not verify');
  return {
    correlationId: newId(),
    actor: { type: 'api_key', id: principal.apiKeyId, createdBy: principal.createdBy },
    organizationId: principal.organizationId as OrganizationId,
    scopes: principal.scopes,
  };
}

/** A new account with its own organization (each test makes its own), and its owner as a caller. */
export async function signUpOwner(identity: Identity, label = 'owner') {
  const email = uniqueEmail(label);
  const session = unwrap(
    await identity.services.signUp(anonymous(), {
      email,
      password: STRONG_PASSWORD,
      name: `${label} person`,
      organizationName: `${label} org`,
    }),
  );
  return { email, session, ctx: await userContext(identity, session) };
}

/** Someone invited into `inviter`'s organization with `role`, signed in there. */
export async function addMember(identity: Identity, inviter: RequestContext, role: 'admin' | 'editor' | 'viewer') {
  const email = uniqueEmail(role);
  const { token } = unwrap(await identity.services.inviteMember(inviter, { email, role }));
  const session = unwrap(
    await identity.services.acceptInvitation(anonymous(), { token, name: `${role} person`, password: STRONG_PASSWORD }),
  );
  return { email, session, ctx: await userContext(identity, session) };
}

/** The failure of a result, to assert on its type and fields. */
export function failure<E extends DomainError>(result: Result<unknown, E>): E {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/** Event types an organization's outbox holds, oldest first. */
export async function outboxTypes(identity: Identity, organizationId: string): Promise<string[]> {
  const rows = await identity.handle.rows<{ type: string }>(
    sql`select type from identity.outbox where organization_id = ${organizationId}::uuid order by seq`,
  );
  return rows.map((r) => r.type);
}

/** Runs an operation through the identity subgraph schema as `request`. */
export function execute(
  services: IdentityServices,
  request: RequestContext,
  source: string,
  variables: Record<string, unknown> = {},
): Promise<ExecutionResult> {
  return graphql({ schema, source, variableValues: variables, contextValue: { request, services, log: logger } });
}
