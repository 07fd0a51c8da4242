// The fields a page of contacts reads for each contact (do-not-contact entries, companies, notes)
// cost a bounded number of statements, however many contacts the page holds: counted on the real
// database, with the subgraph executing the query.
import { newId } from '@mauntic/kernel';
import type { DatabaseHandle } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrmServices } from '../src/app/services.ts';
import { DATABASES, newOrg, openCrm, runGraphql } from './harness.ts';

// postgres.js's client is callable; PGlite's is not.
type PostgresClient = Extract<DatabaseHandle['client'], (...args: never[]) => unknown>;
type PgliteClient = Exclude<DatabaseHandle['client'], PostgresClient>;

/** The same database, with every statement sent through it counted. */
function counting(handle: DatabaseHandle) {
  const counter = { statements: 0 };
  const logger = { logQuery: () => void counter.statements++ };
  const db =
    handle.kind === 'postgres'
      ? drizzlePostgres(handle.client as PostgresClient, { logger })
      : drizzlePglite(handle.client as PgliteClient, { logger });
  const counted: DatabaseHandle = {
    ...handle,
    db: db as unknown as DatabaseHandle['db'],
    rows: (query, executor = counted.db) => handle.rows(query, executor),
  };
  return { counter, handle: counted };
}

const PAGE = `query($first: Int) { contacts(first: $first) { edges { node {
  id email doNotContact { channel } companies { name isPrimary } notes { body } } } } }`;

describe.each(DATABASES)('statements per page of contacts (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  const ctx = newOrg();
  beforeAll(async () => {
    crm = await openCrm(open);
    // 100 contacts, each with a do-not-contact entry, two companies (one primary) and a note,
    // written set-based: the fixture is not what is under test.
    const org = ctx.organizationId;
    const [acme, globex] = [newId(), newId()];
    await crm.handle.db.execute(sql`insert into crm.companies (id, organization_id, name)
      values (${acme}, ${org}, 'Acme'), (${globex}, ${org}, 'Globex')`);
    await crm.handle.db.execute(sql`insert into crm.contacts (id, organization_id, email)
      select crm.uuid_v7(), ${org}::uuid, 'c' || g || '@example.com' from generate_series(1, 100) g`);
    await crm.handle.db.execute(sql`insert into crm.contact_companies (organization_id, contact_id, company_id, is_primary)
      select ${org}::uuid, id, ${acme}::uuid, false from crm.contacts where organization_id = ${org}
      union all select ${org}::uuid, id, ${globex}::uuid, true from crm.contacts where organization_id = ${org}`);
    await crm.handle.db.execute(sql`insert into crm.do_not_contact (organization_id, contact_id, channel, reason)
      select ${org}::uuid, id, 'sms', 'manual' from crm.contacts where organization_id = ${org}`);
    await crm.handle.db.execute(sql`insert into crm.notes (id, organization_id, contact_id, type, body)
      select crm.uuid_v7(), ${org}::uuid, id, 'general', 'about ' || email from crm.contacts where organization_id = ${org}`);
  });
  afterAll(() => crm?.close());

  const statementsFor = async (first: number) => {
    const { counter, handle } = counting(crm.handle);
    const services = createCrmServices({ ...crm.services.deps, handle });
    const result = await runGraphql(services, ctx, PAGE, { first });
    expect(result.errors).toBeUndefined();
    return { statements: counter.statements, edges: result.data!.contacts.edges as any[] };
  };

  it('reads do-not-contact entries, companies and notes of 100 contacts in as many statements as for 2', async () => {
    const two = await statementsFor(2);
    const hundred = await statementsFor(100);
    expect(hundred.edges).toHaveLength(100);
    for (const { node } of hundred.edges)
      expect(node).toMatchObject({
        doNotContact: [{ channel: 'sms' }],
        companies: [
          { name: 'Globex', isPrimary: true },
          { name: 'Acme', isPrimary: false },
        ],
        // Each contact gets its own note, not another's.
        notes: [{ body: `about ${node.email}` }],
      });
    // The page and its count, then one statement for each of the three fields.
    expect(hundred.statements).toBe(5);
    expect(two.statements).toBe(hundred.statements);
  });
});
