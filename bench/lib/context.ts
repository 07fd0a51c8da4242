// The caller every benchmark acts as: the owner of a fresh organization, with every scope.
import { newId, type OrganizationId, type RequestContext } from '@mauntic/kernel';

export function benchOwner(): RequestContext & { organizationId: OrganizationId } {
  return {
    correlationId: 'bench',
    actor: { type: 'user', id: newId() },
    organizationId: newId() as OrganizationId,
    role: 'owner',
    scopes: ['*:read', '*:write', '*:admin'],
  };
}
