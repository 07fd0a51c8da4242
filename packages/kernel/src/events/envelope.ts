// The envelope every domain event travels in, on the outbox, on Kafka and in memory.
import { z } from 'zod';
import { newId } from '../ids.ts';

export const eventEnvelopeSchema = z.object({
  id: z.uuid({ version: 'v7' }),
  type: z.string().regex(/^[a-z]+\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/, 'expected context.noun.verb-past'),
  version: z.number().int().positive(),
  organizationId: z.uuid(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200).optional(),
  subject: z.object({ type: z.string().min(1), id: z.string().min(1) }),
  data: z.unknown(),
  /**
   * The W3C trace context of the work that caused the event, when tracing is on: it crosses the
   * outbox with the event, so consumers continue the same trace.
   */
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
});

export type EventEnvelope<TType extends string = string, TData = unknown> = Omit<
  z.infer<typeof eventEnvelopeSchema>,
  'type' | 'data'
> & { type: TType; data: TData };

export interface EventDefinition<TType extends string = string, TData = unknown> {
  type: TType;
  version: number;
  subjectType: string;
  data: z.ZodType<TData>;
}

export function defineEvent<TType extends string, TData>(
  type: TType,
  version: number,
  subjectType: string,
  data: z.ZodType<TData>,
): EventDefinition<TType, TData> {
  return { type, version, subjectType, data };
}

export interface NewEvent<TData> {
  organizationId: string;
  subjectId: string;
  data: TData;
  correlationId: string;
  causationId?: string;
  occurredAt?: Date;
}

/** Builds a validated envelope for a catalogued event; throws on data that breaks its schema. */
export function createEvent<TType extends string, TData>(
  def: EventDefinition<TType, TData>,
  input: NewEvent<TData>,
): EventEnvelope<TType, TData> {
  const data = def.data.parse(input.data);
  return {
    id: newId(),
    type: def.type,
    version: def.version,
    organizationId: input.organizationId,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
    correlationId: input.correlationId,
    ...(input.causationId ? { causationId: input.causationId } : {}),
    subject: { type: def.subjectType, id: input.subjectId },
    data,
  };
}

/** `crm.contact.created` -> `crm`: the context that owns (and publishes) the event. */
export const contextOf = (type: string): string => type.slice(0, type.indexOf('.'));

/** The Kafka topic (and local channel) a context's events travel on. The prefix namespaces environments. */
export const topicOf = (context: string, prefix = 'mauntic'): string => `${prefix}.${context}.events`;
