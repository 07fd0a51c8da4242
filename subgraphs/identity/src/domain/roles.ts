import { type Role, roleAtLeast } from '@mauntic/kernel';

/** Admins manage members below owner; only owners may grant the owner role. */
export function canGrantRole(granter: Role, granted: Role): boolean {
  if (granted === 'owner') return granter === 'owner';
  return roleAtLeast(granter, 'admin');
}
