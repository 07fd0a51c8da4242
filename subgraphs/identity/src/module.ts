// The identity context as the runtime wires it (cluster: src/index.ts; embedded: one process).
import { fileURLToPath } from 'node:url';
import type { ContextModule } from '@mauntic/platform';
import { createIdentityServices, type IdentityServices } from './app/services.ts';
import { outbox } from './db/schema.ts';
import { type IdentitySettings, identityModel } from './environment.ts';
import { schema } from './graphql/index.ts';

export function identityModule(settings: IdentitySettings = identityModel.parse({})): ContextModule<IdentityServices> {
  return {
    name: 'identity',
    schema,
    migrations: { schema: 'identity', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) },
    outbox,
    createServices: (deps) =>
      createIdentityServices({
        handle: deps.handle,
        logger: deps.logger,
        jwtKey: deps.secrets.jwtKey,
        accessTokenTtlSeconds: settings.AUTH_ACCESS_TOKEN_TTL_SECONDS,
        refreshTokenTtlSeconds: settings.AUTH_REFRESH_TOKEN_TTL_SECONDS,
        invitationTtlSeconds: settings.AUTH_INVITATION_TTL_SECONDS,
      }),
  };
}

export type { IdentityServices };
export { createIdentityServices };
