// The delivery subgraph as its own process (cluster mode): GraphQL, the public tracking and
// webhook endpoints, and (when DELIVERY_INBOUND_SMTP_PORT is set) the inbound SMTP endpoint
// that takes DSN bounces and ARF complaints.
import { outboundGuard, runClusterContext, runMain } from '@mauntic/platform';
import { clusterKeys, mailSettings, parseDeliveryEnvironment } from './environment.ts';
import { deliveryRoutes } from './http/routes.ts';
import { startFeedbackEndpoint } from './inbound/smtp-endpoint.ts';
import { deliveryModule } from './module.ts';

runMain(async () => {
  const env = parseDeliveryEnvironment();
  const outbound = outboundGuard({ allow: env.outbound.OUTBOUND_ALLOWED_HOSTS });
  const { context, shutdown } = await runClusterContext(
    deliveryModule({ ...clusterKeys(env.delivery), ...mailSettings(env.delivery), outbound }),
    env,
    {
      migrate: env.db.MIGRATE_ON_START,
      routes: (services) => deliveryRoutes(services),
    },
  );
  if (env.delivery.DELIVERY_INBOUND_SMTP_PORT) {
    const inbound = await startFeedbackEndpoint(context.services, {
      port: env.delivery.DELIVERY_INBOUND_SMTP_PORT,
      host: env.delivery.DELIVERY_INBOUND_SMTP_HOST,
      lmtp: env.delivery.DELIVERY_INBOUND_LMTP,
    });
    shutdown.add('inbound-smtp', () => inbound.close());
  }
});
