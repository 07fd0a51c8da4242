import { ROLES, type Role } from '@mauntic/kernel';
import { builder } from '../builder.ts';

export const RoleEnum = builder.enumType('Role', {
  values: Object.fromEntries(ROLES.map((r) => [r.toUpperCase(), { value: r }])) as Record<
    Uppercase<Role>,
    { value: Role }
  >,
});
