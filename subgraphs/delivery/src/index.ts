// The delivery subgraph as its own process (cluster mode): GraphQL, the public tracking and
// webhook endpoints, and (when DELIVERY_INBOUND_SMTP_PORT is set) the inbound SMTP endpoint
// that takes DSN bounces and ARF complaints.
import { ConfigError, runClusterContext, runMain } from '@mauntic/platform';
import { parseDeliveryEnvironment } from './environment.ts';
import { deliveryRoutes } from './http/routes.ts';
import { startFeedbackEndpoint } from './inbound/smtp-endpoint.ts';
import { deliveryModule } from './module.ts';
import { parseEncryptionKey } from './providers/index.ts';

runMain(async () => {
  const env = parseDeliveryEnvironment();
  const missing = [
    !env.delivery.DELIVERY_ENCRYPTION_KEY && 'DELIVERY_ENCRYPTION_KEY: required in cluster mode',
    !env.delivery.TRACKING_SECRET && 'TRACKING_SECRET: required in cluster mode',
  ].filter((x): x is string => Boolean(x));
  if (missing.length) throw new ConfigError(missing);
  const module = deliveryModule({
    publicBaseUrl: env.delivery.PUBLIC_BASE_URL,
    encryptionKey: parseEncryptionKey(env.delivery.DELIVERY_ENCRYPTION_KEY),
    trackingKey: Buffer.from(env.delivery.TRACKING_SECRET!, 'utf8'),
  });
  const { context, shutdown } = await runClusterContext(module, env, {
    migrate: env.db.MIGRATE_ON_START,
    routes: (services) => deliveryRoutes(services),
  });
  if (env.delivery.DELIVERY_INBOUND_SMTP_PORT) {
    const inbound = await startFeedbackEndpoint(context.services, { port: env.delivery.DELIVERY_INBOUND_SMTP_PORT });
    shutdown.add('inbound-smtp', () => inbound.close());
  }
});
