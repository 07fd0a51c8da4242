// Every event type and version the platform knows. Producers build events from these
// definitions; consumers validate what they receive against them.
import * as campaign from '../catalogue/campaign.ts';
import * as content from '../catalogue/content.ts';
import * as crm from '../catalogue/crm.ts';
import * as delivery from '../catalogue/delivery.ts';
import * as identity from '../catalogue/identity.ts';
import * as integrations from '../catalogue/integrations.ts';
import * as journey from '../catalogue/journey.ts';
import * as journeyActions from '../catalogue/journey-actions.ts';
import { type EventDefinition, type EventEnvelope, eventEnvelopeSchema } from './envelope.ts';

export const catalogue = { identity, crm, delivery, content, journey, journeyActions, integrations, campaign } as const;

const definitions = new Map<string, EventDefinition>();
for (const context of Object.values(catalogue)) {
  for (const def of Object.values(context) as EventDefinition[]) definitions.set(`${def.type}@${def.version}`, def);
}

export function eventDefinition(type: string, version: number): EventDefinition | undefined {
  return definitions.get(`${type}@${version}`);
}

export const catalogueEntries = (): EventDefinition[] => [...definitions.values()];

export class InvalidEventError extends Error {
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

/** Validates an envelope and its data against the catalogue. Unknown types or versions are invalid. */
export function parseEvent(raw: unknown): EventEnvelope {
  const envelope = eventEnvelopeSchema.safeParse(raw);
  if (!envelope.success) throw new InvalidEventError(`invalid envelope: ${envelope.error.message}`);
  const def = eventDefinition(envelope.data.type, envelope.data.version);
  if (!def) throw new InvalidEventError(`unknown event ${envelope.data.type} v${envelope.data.version}`);
  const data = def.data.safeParse(envelope.data.data);
  if (!data.success) throw new InvalidEventError(`invalid ${def.type} v${def.version} data: ${data.error.message}`);
  return { ...envelope.data, data: data.data };
}
