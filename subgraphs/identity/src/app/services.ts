// The identity context's use cases, bound to their dependencies: what resolvers, tests and the
// gateway's API-key check call.
import { createApiKey, listApiKeys, revokeApiKey, verifyApiKey } from './api-keys.ts';
import type { IdentityDeps } from './deps.ts';
import { logIn } from './log-in.ts';
import { logOut } from './log-out.ts';
import {
  acceptInvitation,
  findMemberUser,
  findOrganization,
  inviteMember,
  listMembers,
  organizationById,
  userById,
} from './members.ts';
import { refreshSession } from './refresh-session.ts';
import { signUp } from './sign-up.ts';
import { viewer } from './viewer.ts';

export function createIdentityServices(deps: IdentityDeps) {
  const bind =
    <A extends unknown[], R>(fn: (deps: IdentityDeps, ...args: A) => R) =>
    (...args: A) =>
      fn(deps, ...args);
  return {
    signUp: bind(signUp),
    logIn: bind(logIn),
    refreshSession: bind(refreshSession),
    logOut: bind(logOut),
    inviteMember: bind(inviteMember),
    acceptInvitation: bind(acceptInvitation),
    createApiKey: bind(createApiKey),
    revokeApiKey: bind(revokeApiKey),
    verifyApiKey: bind(verifyApiKey),
    listApiKeys: bind(listApiKeys),
    listMembers: bind(listMembers),
    findMemberUser: bind(findMemberUser),
    findOrganization: bind(findOrganization),
    userById: bind(userById),
    organizationById: bind(organizationById),
    viewer: bind(viewer),
  };
}

export type IdentityServices = ReturnType<typeof createIdentityServices>;
