// The identity subgraph as its own process (cluster mode).
import { runClusterContext, runMain, verifyInternalContext } from '@mauntic/platform';
import { z } from 'zod';
import { parseIdentityEnvironment } from './environment.ts';
import { identityModule } from './module.ts';

runMain(async () => {
  const env = parseIdentityEnvironment();
  await runClusterContext(identityModule(env.identity), env, {
    migrate: env.db.MIGRATE_ON_START,
    routes: (services) => ({
      // The gateway checks API keys here; only callers holding the internal secret may ask.
      '/internal/api-keys/verify': async (req) => {
        const key = new TextEncoder().encode(env.secrets.INTERNAL_CONTEXT_SECRET);
        try {
          verifyInternalContext(String(req.headers['x-mauntic-context'] ?? ''), key);
        } catch {
          throw Object.assign(new Error('unauthorized'), { status: 401 });
        }
        const body = z.object({ key: z.string().max(200) }).safeParse(JSON.parse(req.body.toString('utf8') || '{}'));
        if (!body.success) return { status: 400, body: 'expected {"key": "..."}' };
        const principal = await services.verifyApiKey(body.data.key);
        return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ principal }) };
      },
    }),
  });
});
