// What each root field of the Subscription type (schema/subscriptions.graphql) streams: which
// catalogue events, behind which scope, narrowed by which arguments, and the payload it makes of
// an event. Payload objects carry the event's own values; entity fields (contact, message...) are
// resolved through the graph when selected (execute.ts).
import type { EventEnvelope, Scope } from '@mauntic/kernel';

/** A payload, as opposed to an entity's answer from the graph (which is read by response key). */
export class EventPayload {
  constructor(values: Record<string, unknown>) {
    Object.assign(this, values);
  }
}

type Args = Record<string, unknown>;

export interface RootField {
  /** Contexts whose topics carry its events. */
  context: 'crm' | 'delivery' | 'journey' | 'campaign';
  scope: Scope;
  types: readonly string[];
  /** True when the event passes the field's arguments (besides the event type). */
  accepts(event: EventEnvelope, args: Args): boolean;
  payload(event: EventEnvelope): EventPayload;
}

type Data = Record<string, any>;
const base = (event: EventEnvelope) => ({ id: event.id, type: event.type, occurredAt: event.occurredAt });
const all = () => true;

const contactPayload = (event: EventEnvelope) => {
  const data = event.data as Data;
  return new EventPayload({
    ...base(event),
    contactId: event.subject.id,
    changed: data.changed ?? null,
    erased: data.erased ?? null,
  });
};

const contactField = (type: string): RootField => ({
  context: 'crm',
  scope: 'crm:read',
  types: [type],
  accepts: all,
  payload: contactPayload,
});

const segmentField = (type: string): RootField => ({
  context: 'crm',
  scope: 'crm:read',
  types: [type],
  accepts: (event, args) => args.segmentId == null || (event.data as Data).segmentId === args.segmentId,
  payload: (event) =>
    new EventPayload({ ...base(event), contactId: event.subject.id, segmentId: (event.data as Data).segmentId }),
});

export const DELIVERY_OUTCOMES = {
  SENT: 'delivery.message.sent',
  DELIVERED: 'delivery.message.delivered',
  OPENED: 'delivery.message.opened',
  CLICKED: 'delivery.message.clicked',
  BOUNCED: 'delivery.message.bounced',
  COMPLAINED: 'delivery.message.complained',
  UNSUBSCRIBED: 'delivery.message.unsubscribed',
  FAILED: 'delivery.message.failed',
} as const;
type Outcome = keyof typeof DELIVERY_OUTCOMES;
const OUTCOME_OF = new Map<string, Outcome>(
  Object.entries(DELIVERY_OUTCOMES).map(([outcome, type]) => [type, outcome as Outcome]),
);

function deliveryFilterAccepts(event: EventEnvelope, filter: Data | null | undefined): boolean {
  if (!filter) return true;
  const data = event.data as Data;
  if (filter.templateId != null && data.templateId !== filter.templateId) return false;
  if (filter.sourceKind != null && data.source.kind !== String(filter.sourceKind).toLowerCase()) return false;
  return filter.sourceId == null || data.source.id === filter.sourceId;
}

const deliveryPayload = (event: EventEnvelope) => {
  const data = event.data as Data;
  return new EventPayload({
    ...base(event),
    outcome: OUTCOME_OF.get(event.type),
    messageId: data.messageId,
    contactId: data.contactId,
    channel: data.channel,
    templateId: data.templateId,
    sourceKind: String(data.source.kind).toUpperCase(),
    sourceId: data.source.id,
    url: data.url ?? null,
    machine: data.machine ?? null,
    bounceType: data.bounceType ?? null,
    reason: data.reason ?? null,
  });
};

const deliveryField = (types: readonly string[]): RootField => ({
  context: 'delivery',
  scope: 'delivery:read',
  types,
  accepts: (event, args) => deliveryFilterAccepts(event, args.filter as Data | undefined),
  payload: deliveryPayload,
});

const journeyField = (type: string): RootField => ({
  context: 'journey',
  scope: 'journey:read',
  types: [type],
  accepts: (event, args) => args.journeyId == null || (event.data as Data).journeyId === args.journeyId,
  payload: (event) => {
    const data = event.data as Data;
    return new EventPayload({
      ...base(event),
      runId: data.runId,
      journeyId: data.journeyId,
      version: data.version,
      contactId: event.subject.id,
      trigger: data.trigger ?? null,
      stepId: data.stepId ?? null,
      stepType: data.stepType ?? null,
      status: data.status ?? null,
    });
  },
});

/** A campaign's lifecycle and the progress of its launch, batch by batch. */
const CAMPAIGN_PROGRESS = [
  'campaign.campaign.launched',
  'campaign.campaign.progressed',
  'campaign.campaign.paused',
  'campaign.campaign.resumed',
  'campaign.variant.won',
  'campaign.campaign.completed',
  'campaign.campaign.cancelled',
] as const;

const campaignProgress: RootField = {
  context: 'campaign',
  scope: 'campaign:read',
  types: CAMPAIGN_PROGRESS,
  accepts: (event, args) => args.campaignId == null || event.subject.id === args.campaignId,
  payload: (event) => {
    const data = event.data as Data;
    return new EventPayload({
      ...base(event),
      campaignId: event.subject.id,
      name: data.name,
      recipients: data.recipients ?? null,
      requested: data.requested ?? null,
      skipped: data.skipped ?? null,
      variant: data.variant ?? null,
    });
  },
};

/** A contact import's batches as they are written, then its end. */
const importProgress: RootField = {
  context: 'crm',
  scope: 'crm:read',
  types: ['crm.import.progressed', 'crm.import.finished'],
  accepts: (event, args) => args.importId == null || event.subject.id === args.importId,
  payload: (event) => {
    const data = event.data as Data;
    return new EventPayload({
      ...base(event),
      importId: event.subject.id,
      rowsDone: data.rowsDone,
      rowsFailed: data.rowsFailed,
      rowsCreated: data.rowsCreated,
      rowsUpdated: data.rowsUpdated,
      percent: data.percent ?? null,
      status: data.status ? String(data.status).toUpperCase() : null,
      error: data.error ?? null,
    });
  },
};

export const ROOT_FIELDS: Record<string, RootField> = {
  contactCreated: contactField('crm.contact.created'),
  contactUpdated: contactField('crm.contact.updated'),
  contactDeleted: contactField('crm.contact.deleted'),
  contactMerged: {
    context: 'crm',
    scope: 'crm:read',
    types: ['crm.contact.merged'],
    accepts: all,
    payload: (event) => {
      const data = event.data as Data;
      return new EventPayload({ ...base(event), contactId: data.winnerId, mergedContactId: data.loserId });
    },
  },
  segmentEntered: segmentField('crm.segment.entered'),
  segmentExited: segmentField('crm.segment.exited'),
  messageSent: deliveryField([DELIVERY_OUTCOMES.SENT]),
  messageDelivered: deliveryField([DELIVERY_OUTCOMES.DELIVERED]),
  messageOpened: deliveryField([DELIVERY_OUTCOMES.OPENED]),
  messageClicked: deliveryField([DELIVERY_OUTCOMES.CLICKED]),
  messageBounced: deliveryField([DELIVERY_OUTCOMES.BOUNCED]),
  messageComplained: deliveryField([DELIVERY_OUTCOMES.COMPLAINED]),
  messageUnsubscribed: deliveryField([DELIVERY_OUTCOMES.UNSUBSCRIBED]),
  messageFailed: deliveryField([DELIVERY_OUTCOMES.FAILED]),
  deliveryOutcomes: {
    ...deliveryField(Object.values(DELIVERY_OUTCOMES)),
    accepts: (event, args) =>
      (!Array.isArray(args.outcomes) || args.outcomes.includes(OUTCOME_OF.get(event.type))) &&
      deliveryFilterAccepts(event, args.filter as Data | undefined),
  },
  journeyRunStarted: journeyField('journey.run.started'),
  journeyStepCompleted: journeyField('journey.step.completed'),
  journeyRunCompleted: journeyField('journey.run.completed'),
  campaignProgress,
  importProgress,
};

/** Every event type some field streams: the rest are not worth keeping for replay. */
export const STREAMED_TYPES: ReadonlySet<string> = new Set(Object.values(ROOT_FIELDS).flatMap((f) => f.types));
export const STREAMED_CONTEXTS = [...new Set(Object.values(ROOT_FIELDS).map((f) => f.context))];
