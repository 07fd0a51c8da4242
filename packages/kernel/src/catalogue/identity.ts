import { z } from 'zod';
import { ROLES } from '../context.ts';
import { defineEvent } from '../events/envelope.ts';

export const organizationCreated = defineEvent(
  'identity.organization.created',
  1,
  'organization',
  z.object({ name: z.string(), slug: z.string(), createdBy: z.uuid() }),
);

export const userCreated = defineEvent(
  'identity.user.created',
  1,
  'user',
  z.object({ email: z.email(), name: z.string() }),
);

export const memberAdded = defineEvent(
  'identity.member.added',
  1,
  'user',
  z.object({ userId: z.uuid(), role: z.enum(ROLES), invitedBy: z.uuid().optional() }),
);

export const apiKeyRevoked = defineEvent(
  'identity.api-key.revoked',
  1,
  'api_key',
  z.object({ apiKeyId: z.uuid(), revokedBy: z.uuid() }),
);
