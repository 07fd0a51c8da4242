// A bounded context as the runtime sees it: its schema, migrations, outbox, and how to build its
// use cases from the shared ports. Cluster entry points run one module per process; embedded
// mode runs them all in one.
import type { GraphQLSchema } from 'graphql';
import type { EventBus, Subscription } from './bus/event-bus.ts';
import type { DatabaseHandle } from './db/database.ts';
import type { MigrationSet } from './db/migrate.ts';
import type { JobDefinition, JobQueue } from './jobs/job-queue.ts';
import type { Logger } from './logger.ts';
import type { OutboxTable } from './outbox/tables.ts';

export interface Secrets {
  /** Signs the gateway -> subgraph context. */
  internalKey: Uint8Array;
  /** Signs access tokens. */
  jwtKey: Uint8Array;
}

export interface ContextDeps {
  handle: DatabaseHandle;
  bus: EventBus;
  queue: JobQueue;
  logger: Logger;
  secrets: Secrets;
}

export interface ContextModule<TServices = unknown> {
  name: string;
  schema: GraphQLSchema;
  migrations: MigrationSet;
  outbox: OutboxTable;
  createServices(deps: ContextDeps): TServices;
  subscriptions?(services: TServices): Subscription[];
  jobs?(services: TServices): JobDefinition<any>[];
  /** Runs once the bus and the queue have started (e.g. to schedule recurring work). */
  onStart?(services: TServices): Promise<void>;
}
