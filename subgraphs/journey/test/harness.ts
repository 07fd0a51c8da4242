// Journey use cases on a real database (Postgres or PGlite), with what the tests put in the
// context's copies of other contexts' data and in its run tables.
import { catalogue, createEvent, newId, type OrganizationId, type RequestContext, type Role } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, openDatabase, runMigrations } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { and, eq } from 'drizzle-orm';
import { type ExecutionResult, graphql } from 'graphql';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { createJourneyServices, type JourneyServices } from '../src/app/services.ts';
import {
  customFields,
  journeyVersions,
  type RunState,
  runs,
  type StepStatus,
  segments,
  stepLog,
  templates,
} from '../src/db/schema.ts';
import type { Channel } from '../src/domain/definition.ts';
import { schema } from '../src/graphql/index.ts';
import { journeyModule } from '../src/module.ts';

export const DATABASES = [
  ['postgres', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 5 })],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

const logger = createLogger('journey-test', 'silent');

export async function openJourney(open: () => Promise<DatabaseHandle>, now: () => Date = () => new Date()) {
  const handle = await open();
  await runMigrations(handle, journeyModule().migrations);
  const services: JourneyServices = createJourneyServices({ handle, logger, now });
  return { handle, services, close: () => handle.close() };
}

export type Journey = Awaited<ReturnType<typeof openJourney>>;

/** A fresh organization and an owner-like caller for it. */
export function newOrg(): RequestContext & { organizationId: OrganizationId } {
  return {
    correlationId: newId(),
    actor: { type: 'user', id: newId() },
    organizationId: newId() as OrganizationId,
    role: 'owner',
    scopes: ['*:read', '*:write', '*:admin'],
  };
}

/** Another member of the same organization, holding only `scopes`. */
export const memberOf = (ctx: RequestContext, role: Role, scopes: RequestContext['scopes']): RequestContext => ({
  ...ctx,
  correlationId: newId(),
  actor: { type: 'user', id: newId() },
  role,
  scopes,
});

export const anonymous = (): RequestContext => ({ correlationId: newId(), actor: { type: 'anonymous' }, scopes: [] });

/** Runs an operation through the subgraph schema, as the gateway would call it. */
export function execute(
  services: JourneyServices,
  request: RequestContext,
  source: string,
  variableValues: Record<string, unknown> = {},
): Promise<ExecutionResult> {
  return graphql({ schema, source, variableValues, contextValue: { request, services, log: logger } });
}

// --- the copies of other contexts' data ----------------------------------------------------------

export async function seedTemplate(handle: DatabaseHandle, organizationId: string, channel: Channel) {
  const id = newId();
  await handle.db.insert(templates).values({ id, organizationId, channel });
  return id;
}

export async function seedSegment(handle: DatabaseHandle, organizationId: string, kind: 'dynamic' | 'static') {
  const id = newId();
  await handle.db.insert(segments).values({ id, organizationId, kind });
  return id;
}

export async function seedField(handle: DatabaseHandle, organizationId: string, key: string, type: string) {
  await handle.db.insert(customFields).values({ organizationId, key, type });
}

/** A contact as CRM's created event puts it in the copy. */
export async function seedContact(services: JourneyServices, organizationId: string, email = `${newId()}@example.com`) {
  const id = newId();
  await applyCrmEvent(services.deps, crmContactCreated(organizationId, id, { email }));
  return id;
}

export function crmContactCreated(
  organizationId: string,
  contactId: string,
  contact: Partial<typeof catalogue.crm.contactCreated.data._output.contact> = {},
  occurredAt = new Date(),
) {
  return createEvent(catalogue.crm.contactCreated, {
    organizationId,
    subjectId: contactId,
    correlationId: newId(),
    occurredAt,
    data: {
      contact: {
        email: null,
        firstName: null,
        lastName: null,
        phone: null,
        timezone: null,
        locale: null,
        ownerId: null,
        stageId: null,
        points: 0,
        tags: [],
        fields: {},
        ...contact,
      },
    },
  });
}

// --- runs, as the executor leaves them -------------------------------------------------------------

export interface SeededRun {
  journeyId: string;
  version: number;
  contactId: string;
  state: RunState;
  stepId: string;
  visit?: number;
  /** The steps it went through before, each completed unless said. */
  log?: { stepId: string; visit?: number; status?: StepStatus }[];
}

/** A run of a published version, with its step log. */
export async function seedRun(handle: DatabaseHandle, organizationId: string, run: SeededRun) {
  const [version] = await handle.db
    .select({ id: journeyVersions.id })
    .from(journeyVersions)
    .where(and(eq(journeyVersions.journeyId, run.journeyId), eq(journeyVersions.version, run.version)));
  if (!version) throw new Error(`journey ${run.journeyId} has no version ${run.version}`);
  const id = newId();
  const ended = !['ready', 'waiting'].includes(run.state);
  await handle.db.insert(runs).values({
    id,
    organizationId,
    journeyId: run.journeyId,
    versionId: version.id,
    contactId: run.contactId,
    state: run.state,
    stepId: run.stepId,
    visit: run.visit ?? 1,
    dueAt: run.state === 'waiting' ? new Date(Date.now() + 3_600_000) : null,
    endedAt: ended ? new Date() : null,
  });
  if (run.log?.length)
    await handle.db.insert(stepLog).values(
      run.log.map((entry, i) => ({
        runId: id,
        stepId: entry.stepId,
        visit: entry.visit ?? 1,
        organizationId,
        journeyId: run.journeyId,
        status: entry.status ?? 'completed',
        outcome: { order: i },
        at: new Date(Date.now() + i),
      })),
    );
  return id;
}
