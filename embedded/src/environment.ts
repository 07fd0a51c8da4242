// Embedded mode's configuration: every deployable's settings in one process. None is required;
// docs/configuration.md lists every variable.
import { crmModel } from '@mauntic/crm/environment';
import { deliveryModel } from '@mauntic/delivery/environment';
import { gatewayModel } from '@mauntic/gateway';
import { identityModel } from '@mauntic/identity/environment';
import { dispatcherModel, integrationsModel, webhookEndpointsModel } from '@mauntic/integrations/environment';
import {
  busModel,
  databaseModel,
  EMBEDDED_OUTBOUND_ALLOWED,
  logModel,
  outboundModel,
  parseEnvironment,
  queueModel,
  secretsModel,
  serverModel,
} from '@mauntic/platform';

// One process serves people on this machine: listen on loopback unless told otherwise.
const server = serverModel(4000);
const embeddedServerModel = server.extend({ HOST: server.shape.HOST.default('127.0.0.1') });

export const parseEmbeddedEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    {
      server: embeddedServerModel,
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
      gateway: gatewayModel,
      identity: identityModel,
      crm: crmModel,
      delivery: deliveryModel,
      integrations: integrationsModel,
      webhooks: dispatcherModel,
      webhookEndpoints: webhookEndpointsModel,
      // A person's own machine: its local servers (a test relay, a webhook receiver) are reachable.
      outbound: outboundModel(EMBEDDED_OUTBOUND_ALLOWED),
    },
    env,
  );

export type EmbeddedConfig = ReturnType<typeof parseEmbeddedEnvironment>;
