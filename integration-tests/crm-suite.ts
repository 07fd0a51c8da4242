// CRM through the gateway, as a client calls it; the same suite runs against both modes.
import { newId } from '@mauntic/kernel';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { gql, type Platform, type PlatformFactory } from './harness.ts';
import { signUp } from './identity-suite.ts';
import { subscribe } from './subscriptions-suite.ts';

const CONTACT = 'id email firstName lastName phone timezone locale points tags fields stageId owner { id }';
const CREATE_FIELD = `mutation($input: CreateFieldInput!) { createField(input: $input) { __typename ... on FieldDefinition { key type } ... on Error { code message } } }`;
const CREATE = `mutation($input: ContactInput!) { createContact(input: $input) {
  __typename ... on Contact { ${CONTACT} } ... on ValidationError { issues { path message } } ... on Error { code message } } }`;
const UPDATE = `mutation($id: ID!, $set: ContactInput!) { updateContact(input: { id: $id, set: $set }) {
  __typename ... on Contact { ${CONTACT} } ... on ValidationError { issues { path message } } ... on Error { code } } }`;
const UPSERT = `mutation($input: ContactInput!) { upsertContact(input: $input) { __typename ... on UpsertedContact { created contact { id email firstName } } ... on Error { code } } }`;
const BATCH = `mutation($contacts: [ContactInput!]!) { batchUpsertContacts(input: { contacts: $contacts }) {
  __typename ... on BatchUpsertContactsResult { results { index created contact { id } error { issues { path message } } } } ... on Error { code message } } }`;
const LIST = `query($filter: JSON, $sort: ContactSort, $first: Int, $after: String) { contacts(filter: $filter, sort: $sort, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id email points } } } }`;
const CREATE_SEGMENT = `mutation($input: CreateSegmentInput!) { createSegment(input: $input) {
  __typename ... on Segment { id name kind building contactCount } ... on ValidationError { issues { path message } } ... on Error { code } } }`;
const SEGMENT = `query($id: ID!) { segment(id: $id) { id building contactCount rebuiltAt contacts(first: 100) { totalCount edges { node { id email } } } } }`;
const TAG = `mutation($input: TagContactInput!) { tagContact(input: $input) { __typename ... on Contact { tags } ... on Error { code } } }`;

export function crmSuite(name: string, start: PlatformFactory) {
  describe(`CRM through the gateway (${name})`, () => {
    let platform: Platform;
    let token: string;
    let userId: string;
    const call = (query: string, variables: Record<string, unknown> = {}, t = token) =>
      gql(platform.url, query, variables, { token: t });

    beforeAll(async () => {
      platform = await start();
      const { session } = await signUp(platform.url, 'crm');
      token = session.accessToken;
      userId = session.user.id;
      for (const input of [
        { entity: 'CONTACT', key: 'plan', label: 'Plan', type: 'SELECT', choices: ['free', 'pro', 'enterprise'] },
        { entity: 'CONTACT', key: 'revenue', label: 'Revenue', type: 'NUMBER', scale: 2 },
        { entity: 'CONTACT', key: 'renewal', label: 'Renewal date', type: 'DATE' },
        { entity: 'CONTACT', key: 'beta', label: 'Beta tester', type: 'BOOLEAN' },
      ]) {
        const field = await call(CREATE_FIELD, { input });
        expect(field.data?.createField.__typename).toBe('FieldDefinition');
      }
    });
    afterAll(() => platform?.stop());

    it('creates contacts with validated, normalised standard and custom fields', async () => {
      const created = await call(CREATE, {
        input: {
          email: 'Ada@Example.com',
          firstName: 'Ada',
          phone: '+1 (415) 555-0100',
          timezone: 'Europe/Paris',
          locale: 'fr_FR',
          tags: ['VIP', ' vip ', 'Beta'],
          fields: { plan: 'pro', revenue: '1234.567', renewal: '2027-02-28', beta: 'yes' },
        },
      });
      expect(created.data?.createContact).toMatchObject({
        __typename: 'Contact',
        email: 'Ada@Example.com',
        phone: '+14155550100',
        timezone: 'Europe/Paris',
        locale: 'fr-FR',
        tags: ['vip', 'beta'],
        fields: { plan: 'pro', revenue: 1234.57, renewal: '2027-02-28', beta: true },
      });

      const duplicate = await call(CREATE, { input: { email: 'ada@EXAMPLE.com' } });
      expect(duplicate.data?.createContact).toMatchObject({
        __typename: 'ContactEmailTakenError',
        code: 'CONTACT_EMAIL_TAKEN',
      });

      const bad = await call(CREATE, {
        input: { email: 'nope', phone: '12', fields: { plan: 'gold', renewal: '2027-02-30', unknown: 1 } },
      });
      expect(bad.data?.createContact.__typename).toBe('ValidationError');
      expect(bad.data?.createContact.issues.map((i: { path: string[] }) => i.path.join('.')).sort()).toEqual(
        ['input.email', 'input.fields.plan', 'input.fields.renewal', 'input.fields.unknown', 'input.phone'].sort(),
      );
    });

    it('updates only what it is given, and upserts by email', async () => {
      const { data } = await call(CREATE, {
        input: { email: 'grace@example.com', firstName: 'Grace', fields: { plan: 'free', beta: true } },
      });
      const id = data!.createContact.id;
      const updated = await call(UPDATE, { id, set: { lastName: 'Hopper', fields: { plan: 'pro', beta: null } } });
      expect(updated.data?.updateContact).toMatchObject({
        firstName: 'Grace',
        lastName: 'Hopper',
        fields: { plan: 'pro' },
      });
      expect(updated.data?.updateContact.fields).not.toHaveProperty('beta');

      const upserted = await call(UPSERT, { input: { email: 'GRACE@example.com', firstName: 'Amazing Grace' } });
      expect(upserted.data?.upsertContact).toMatchObject({
        created: false,
        contact: { id, firstName: 'Amazing Grace' },
      });
      const fresh = await call(UPSERT, { input: { email: 'new.person@example.com' } });
      expect(fresh.data?.upsertContact.created).toBe(true);
    });

    it('upserts a batch of 500 with per-item errors, writing the valid ones', async () => {
      const contacts = Array.from({ length: 500 }, (_, i) =>
        i % 100 === 7
          ? { email: `broken-${i}`, fields: { plan: 'free' } }
          : { email: `batch-${i}@example.com`, fields: { revenue: i } },
      );
      const result = await call(BATCH, { contacts });
      const results = result.data?.batchUpsertContacts.results as {
        index: number;
        created: boolean | null;
        error: unknown;
      }[];
      expect(results).toHaveLength(500);
      const failed = results.filter((r) => r.error);
      expect(failed.map((r) => r.index)).toEqual([7, 107, 207, 307, 407]);
      expect(results.filter((r) => r.created)).toHaveLength(495);
      const listed = await call(LIST, { filter: { field: 'email', op: 'startsWith', value: 'batch-' }, first: 1 });
      expect(listed.data?.contacts.totalCount).toBe(495);
    });

    it('lists contacts filtered and sorted, paging without gaps or repeats', async () => {
      const filter = { field: 'fields.revenue', op: 'gte', value: 100 };
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: any = await call(LIST, { filter, sort: 'EMAIL_ASC', first: 97, after });
        for (const edge of page.data.contacts.edges) seen.push(edge.node.email);
        after = page.data.contacts.pageInfo.hasNextPage ? page.data.contacts.pageInfo.endCursor : null;
        // 400 batch contacts with revenue >= 100, less the 4 invalid ones, and Ada.
        expect(page.data.contacts.totalCount).toBe(397);
      } while (after);
      expect(seen).toHaveLength(397);
      expect(new Set(seen).size).toBe(397);
      expect([...seen].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))).toEqual(seen);
    });

    it('keeps a dynamic segment current as contacts change, and counts it exactly', async () => {
      const created = await call(CREATE_SEGMENT, {
        input: {
          name: 'Pro VIPs',
          filter: {
            and: [{ field: 'fields.plan', op: 'eq', value: 'pro' }, { tags: { op: 'includesAny', value: ['vip'] } }],
          },
        },
      });
      // Its members are counted in the background: until then it is building, not empty.
      expect(created.data?.createSegment).toMatchObject({ __typename: 'Segment', building: true, contactCount: null });
      const id = created.data!.createSegment.id;
      await vi.waitFor(async () => expect((await call(SEGMENT, { id })).data?.segment.building).toBe(false), {
        timeout: 20_000,
        interval: 100,
      });
      const before = (await call(SEGMENT, { id })).data!.segment;
      expect(before.contacts.edges.map((e: any) => e.node.email)).toEqual(['Ada@Example.com']);
      expect(before.contactCount).toBe(1);
      expect(before.rebuiltAt).not.toBeNull();

      // Grace is on pro: tagging her vip brings her in at once.
      const grace = (await call(LIST, { filter: { field: 'email', op: 'eq', value: 'grace@example.com' } })).data!
        .contacts.edges[0].node;
      await call(TAG, { input: { contactId: grace.id, add: ['VIP'] } });
      let now = (await call(SEGMENT, { id })).data!.segment;
      expect(now.contactCount).toBe(2);
      expect(now.contacts.edges.map((e: any) => e.node.email).sort()).toEqual(['Ada@Example.com', 'grace@example.com']);

      // Moving her to the free plan takes her out again.
      await call(UPDATE, { id: grace.id, set: { fields: { plan: 'free' } } });
      now = (await call(SEGMENT, { id })).data!.segment;
      expect(now.contactCount).toBe(1);
      expect(now.contacts.totalCount).toBe(1);

      const bad = await call(CREATE_SEGMENT, {
        input: { name: 'bad', filter: { field: 'fields.nope', op: 'eq', value: 1 } },
      });
      expect(bad.data?.createSegment.__typename).toBe('ValidationError');
      expect(bad.data?.createSegment.issues[0].path[0]).toBe('input');
    });

    it('previews a filter without saving it', async () => {
      const preview = await call(
        `query($f: JSON!) { previewSegment(filter: $f, first: 2) { count contacts { email } } }`,
        {
          f: { field: 'email', op: 'endsWith', value: '@example.com' },
        },
      );
      expect(preview.data?.previewSegment.count).toBeGreaterThanOrEqual(497);
      expect(preview.data?.previewSegment.contacts).toHaveLength(2);
    });

    it("keeps organizations apart: another organization cannot read, change or reference this one's data", async () => {
      const otherSession = (await signUp(platform.url, 'crm-other')).session;
      const other = otherSession.accessToken;
      const mine = (await call(LIST, { filter: { field: 'email', op: 'eq', value: 'grace@example.com' } })).data!
        .contacts.edges[0].node.id;
      const seg = (await call(CREATE_SEGMENT, { input: { name: 'Static', kind: 'STATIC' } })).data!.createSegment.id;

      expect((await call(`query($id: ID!) { contact(id: $id) { id } }`, { id: mine }, other)).data?.contact).toBeNull();
      expect((await call(LIST, {}, other)).data?.contacts.totalCount).toBe(0);
      expect(
        (await call(UPDATE, { id: mine, set: { firstName: 'Hacked' } }, other)).data?.updateContact.__typename,
      ).toBe('NotFoundError');
      expect((await call(TAG, { input: { contactId: mine, add: ['x'] } }, other)).data?.tagContact.__typename).toBe(
        'NotFoundError',
      );
      expect((await call(SEGMENT, { id: seg }, other)).data?.segment).toBeNull();
      const ref = await call(
        CREATE_SEGMENT,
        { input: { name: 'theirs', filter: { segment: { id: seg, member: true } } } },
        other,
      );
      expect(ref.data?.createSegment.__typename).toBe('ValidationError');
      const theirStatic = (await call(CREATE_SEGMENT, { input: { name: 'S', kind: 'STATIC' } }, other)).data!
        .createSegment.id;
      const add = await call(
        `mutation($s: ID!, $c: [ID!]!) { addToSegment(input: { segmentId: $s, contactIds: $c }) { __typename ... on Error { code } } }`,
        { s: theirStatic, c: [mine] },
        other,
      );
      expect(add.data?.addToSegment.__typename).toBe('NotFoundError');
      // Nor can this one refer to theirs: their segment in a filter, their user as an owner.
      const byTheirSegment = await call(LIST, { filter: { segment: { id: theirStatic, member: true } } });
      expect(byTheirSegment.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');
      const theirOwner = await call(CREATE, { input: { email: 'owned@example.com', ownerId: otherSession.user.id } });
      expect(theirOwner.data?.createContact).toMatchObject({
        __typename: 'ValidationError',
        issues: [{ path: ['input', 'ownerId'] }],
      });
      // Our own user is an owner once identity's member event has reached CRM.
      await vi.waitFor(
        async () =>
          expect(
            (await call(CREATE, { input: { email: 'owned@example.com', ownerId: userId } })).data?.createContact,
          ).toMatchObject({ __typename: 'Contact', owner: { id: userId } }),
        { timeout: 20_000, interval: 200 },
      );
      // Nothing of theirs changed ours.
      expect(
        (await call(`query($id: ID!) { contact(id: $id) { firstName tags } }`, { id: mine })).data?.contact,
      ).toMatchObject({
        firstName: 'Amazing Grace',
      });
    });

    it('links companies, takes notes and custom events, merges and erases through the graph', async () => {
      const a = (await call(CREATE, { input: { email: 'merge.a@example.com', firstName: 'A' } })).data!.createContact
        .id;
      const b = (await call(CREATE, { input: { email: 'merge.b@example.com', lastName: 'B' } })).data!.createContact.id;
      const company = await call(
        `mutation { createCompany(input: { name: "Acme", domain: "acme.com" }) { ... on Company { id } } }`,
      );
      const link = await call(
        `mutation($c: ID!, $co: ID!) { linkCompany(input: { contactId: $c, companyId: $co, primary: true }) { __typename ... on Contact { companies { name isPrimary } } } }`,
        { c: b, co: company.data!.createCompany.id },
      );
      expect(link.data?.linkCompany).toEqual({ __typename: 'Contact', companies: [{ name: 'Acme', isPrimary: true }] });
      const note = await call(
        `mutation($c: ID!) { addNote(input: { contactId: $c, type: CALL, body: "Called" }) { __typename ... on Note { type body } } }`,
        { c: b },
      );
      expect(note.data?.addNote).toEqual({ __typename: 'Note', type: 'call', body: 'Called' });
      const tracked = await call(
        `mutation { trackContactEvent(input: { email: "MERGE.B@example.com", name: "purchase", properties: { plan: "pro" } }) { __typename ... on TrackedEvent { name } } }`,
      );
      expect(tracked.data?.trackContactEvent).toEqual({ __typename: 'TrackedEvent', name: 'purchase' });

      const merged = await call(
        `mutation($w: ID!, $l: ID!) { mergeContacts(input: { winnerId: $w, loserId: $l }) { __typename ... on Contact {
          id firstName lastName companies { name } notes { body } timeline(first: 10) { items { type subject } } } } }`,
        { w: a, l: b },
      );
      expect(merged.data?.mergeContacts).toMatchObject({
        id: a,
        firstName: 'A',
        lastName: 'B',
        companies: [{ name: 'Acme' }],
        notes: [{ body: 'Called' }],
      });
      expect(merged.data?.mergeContacts.timeline.items.map((i: { type: string }) => i.type)).toContain('event');

      const exported = await call(`query($id: ID!) { exportContactData(id: $id) }`, { id: a });
      expect(exported.data?.exportContactData.contact).toMatchObject({ email: 'merge.a@example.com' });
      const erased = await call(
        `mutation($id: ID!) { eraseContact(input: { id: $id }) { __typename ... on ErasedContact { id } } }`,
        { id: a },
      );
      expect(erased.data?.eraseContact).toEqual({ __typename: 'ErasedContact', id: a });
      expect((await call(`query($id: ID!) { contact(id: $id) { id } }`, { id: a })).data?.contact).toBeNull();
    });

    it('imports a CSV in the background with progress and row errors, and exports a filter', async () => {
      const csv =
        '\ufeffEmail,First,Plan\nimp.1@example.com,Imp,pro\nnot-an-email,Bad,free\nimp.2@example.com,"Quoted, name",gold\nimp.3@example.com,Three,free\n';
      // Every import's progress over graphql-ws, from an id made now: none of it is missed however
      // long the gateway takes to have the subscription live.
      const connect = (bearer: string) =>
        createClient({
          url: platform.url.replace(/^http/, 'ws'),
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${bearer}` },
          retryAttempts: 0,
        });
      const PROGRESS = `subscription($after: ID) { importProgress(after: $after) { type importId rowsDone rowsFailed percent status } }`;
      const after = newId();
      const ws = connect(token);
      const stream = subscribe(ws, PROGRESS, { after });
      // Another organization's subscriber, from the same point: it must see none of this import.
      const otherWs = connect((await signUp(platform.url, 'crm-import-other')).session.accessToken);
      const otherStream = subscribe(otherWs, PROGRESS, { after });
      const started = await call(
        `mutation($csv: String!, $m: JSON!) { startContactImport(input: { csv: $csv, mapping: $m, tags: ["imported"] }) { __typename ... on ContactImport { id } ... on Error { code message } } }`,
        { csv, m: { Email: 'email', First: 'firstName', Plan: 'fields.plan' } },
      );
      expect(started.data?.startContactImport.__typename).toBe('ContactImport');
      const id = started.data!.startContactImport.id;
      const progress = `query($id: ID!) { contactImport(id: $id) { status rowsDone rowsFailed errors(first: 10) { edges { node { row messages } } } } }`;
      await vi.waitFor(
        async () => expect((await call(progress, { id })).data?.contactImport.status).toBe('COMPLETED'),
        {
          timeout: 20_000,
          interval: 100,
        },
      );
      const done = (await call(progress, { id })).data!.contactImport;
      expect(done).toMatchObject({ rowsDone: 2, rowsFailed: 2 });
      expect(done.errors.edges.map((e: any) => e.node.row)).toEqual([2, 3]);
      await vi.waitFor(() => expect(stream.events.map((e) => e.type)).toContain('crm.import.finished'), {
        timeout: 20_000,
        interval: 100,
      });
      expect(stream.errors).toEqual([]);
      expect(stream.events.every((e) => e.importId === id)).toBe(true);
      expect(stream.events.at(-2)).toEqual({
        type: 'crm.import.progressed',
        importId: id,
        rowsDone: 2,
        rowsFailed: 2,
        percent: 100,
        status: null,
      });
      expect(stream.events.at(-1)).toEqual({
        type: 'crm.import.finished',
        importId: id,
        rowsDone: 2,
        rowsFailed: 2,
        percent: null,
        status: 'COMPLETED',
      });
      expect(otherStream.errors).toEqual([]);
      expect(otherStream.events).toEqual([]);
      stream.stop();
      otherStream.stop();
      await ws.dispose();
      await otherWs.dispose();
      const csvOut = await call(`query($f: JSON) { exportContacts(filter: $f) }`, {
        f: { tags: { op: 'includesAny', value: ['imported'] } },
      });
      const lines = String(csvOut.data?.exportContacts ?? '')
        .trim()
        .split('\n');
      expect(lines).toHaveLength(3);
      expect(
        lines
          .slice(1)
          .map((l) => l.split(',')[1])
          .sort(),
      ).toEqual(['imp.1@example.com', 'imp.3@example.com']);
    });

    it('gives points by rule, sorts by a custom field, deletes companies and streams an export link', async () => {
      const rule = await call(
        `mutation { createPointRule(input: { name: "Purchase", eventType: CUSTOM, customName: "purchase", delta: 15, maxPerContact: 1 }) {
          __typename ... on PointRule { id eventType customName delta maxPerContact } } }`,
      );
      expect(rule.data?.createPointRule).toMatchObject({ __typename: 'PointRule', eventType: 'CUSTOM', delta: 15 });
      const badRule = await call(
        `mutation { createPointRule(input: { name: "x", eventType: CUSTOM, delta: 1 }) { __typename ... on ValidationError { issues { path } } } }`,
      );
      expect(badRule.data?.createPointRule).toEqual({
        __typename: 'ValidationError',
        issues: [{ path: ['input', 'customName'] }],
      });
      const buyer = (await call(CREATE, { input: { email: 'buyer@example.com', fields: { revenue: 1 } } })).data!
        .createContact.id;
      for (let i = 0; i < 2; i++)
        await call(
          `mutation($c: ID) { trackContactEvent(input: { contactId: $c, name: "purchase" }) { __typename } }`,
          {
            c: buyer,
          },
        );
      const scored = await call(`query($id: ID!) { contact(id: $id) { points } }`, { id: buyer });
      expect(scored.data?.contact.points).toBe(15);

      const byRevenue = await call(
        `query($after: String) { contacts(first: 3, after: $after, filter: { field: "email", op: "startsWith", value: "batch-49" },
          sortByField: { key: "revenue", direction: DESC }) { pageInfo { hasNextPage endCursor } edges { node { email } } } }`,
      );
      expect(byRevenue.errors).toBeUndefined();
      expect(byRevenue.data?.contacts.edges.map((e: any) => e.node.email)).toEqual([
        'batch-499@example.com',
        'batch-498@example.com',
        'batch-497@example.com',
      ]);
      const next = await call(
        `query($after: String) { contacts(first: 3, after: $after, filter: { field: "email", op: "startsWith", value: "batch-49" },
          sortByField: { key: "revenue", direction: DESC }) { edges { node { email } } } }`,
        { after: byRevenue.data?.contacts.pageInfo.endCursor },
      );
      expect(next.data?.contacts.edges.map((e: any) => e.node.email)).toEqual([
        'batch-496@example.com',
        'batch-495@example.com',
        'batch-494@example.com',
      ]);
      const badSort = await call(`{ contacts(sortByField: { key: "nope" }) { totalCount } }`);
      expect(badSort.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');

      const company = (await call(`mutation { createCompany(input: { name: "Doomed" }) { ... on Company { id } } }`))
        .data!.createCompany.id;
      await call(
        `mutation($c: ID!, $co: ID!) { linkCompany(input: { contactId: $c, companyId: $co }) { __typename } }`,
        { c: buyer, co: company },
      );
      const deleted = await call(
        `mutation($id: ID!) { deleteCompany(input: { id: $id }) { __typename ... on Company { name } } }`,
        { id: company },
      );
      expect(deleted.data?.deleteCompany).toEqual({ __typename: 'Company', name: 'Doomed' });
      expect(
        (await call(`query($id: ID!) { contact(id: $id) { companies { id } } }`, { id: buyer })).data?.contact
          .companies,
      ).toEqual([]);
      const again = await call(
        `mutation($id: ID!) { deleteCompany(input: { id: $id }) { __typename ... on Error { code } } }`,
        { id: company },
      );
      expect(again.data?.deleteCompany).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });

      const link = await call(
        `mutation($f: JSON) { createContactExport(input: { filter: $f }) { __typename ... on ContactExportLink { url expiresAt } } }`,
        { f: { field: 'email', op: 'startsWith', value: 'batch-1' } },
      );
      expect(link.data?.createContactExport.__typename).toBe('ContactExportLink');
      const url: string = link.data!.createContactExport.url;
      expect(url).toMatch(/^\/crm\/exports\/contacts\.csv\?token=/);
      // Served beside /graphql: by the embedded server, or in cluster mode by the CRM subgraph
      // through the gateway.
      const response = await fetch(new URL(url, platform.url));
      expect(response.status).toBe(200);
      expect(response.headers.get('transfer-encoding')).toBe('chunked');
      const lines = (await response.text()).trimEnd().split('\n');
      // batch-1, batch-10..19, batch-100..199, less batch-107 (invalid).
      expect(lines).toHaveLength(1 + 1 + 10 + 99);
      expect(lines.slice(1).every((l) => l.split(',')[1]!.startsWith('batch-1'))).toBe(true);
      const forged = await fetch(new URL(`${url}x`, platform.url));
      expect(forged.status).toBe(401);
    });

    it('scores point groups, fires point triggers once, keeps stage history and files segments in categories', async () => {
      const data = async (query: string, variables: Record<string, unknown> = {}) => {
        const result = await call(query, variables);
        expect(result.errors).toBeUndefined();
        return result.data!;
      };
      const group = (
        await data('mutation { createPointGroup(input: { name: "Product interest" }) { ... on PointGroup { id } } }')
      ).createPointGroup.id;
      const stage = (
        await data('mutation { createStage(input: { name: "Sales ready", position: 5 }) { ... on Stage { id } } }')
      ).createStage.id;
      const rule = await data(
        `mutation($g: ID) { createPointRule(input: { name: "Pricing", eventType: CUSTOM, customName: "viewed", delta: 25,
          groupId: $g, propertyName: "page", propertyValue: "pricing" }) { __typename ... on PointRule { groupId } } }`,
        { g: group },
      );
      expect(rule.createPointRule).toEqual({ __typename: 'PointRule', groupId: group });
      for (const [type, field, value] of [
        ['ADD_TAGS', 'tags', ['sales-ready']],
        ['CHANGE_STAGE', 'stageId', stage],
      ] as const) {
        const trigger = await data(
          `mutation($g: ID, $a: PointTriggerActionInput!) { createPointTrigger(input: { name: "Ready", groupId: $g, threshold: 50, action: $a }) {
            __typename } }`,
          { g: group, a: { type, [field]: value } },
        );
        expect(trigger.createPointTrigger.__typename).toBe('PointTrigger');
      }
      const lead = (await call(CREATE, { input: { email: 'lead@example.com' } })).data!.createContact.id;
      for (const page of ['pricing', 'blog', 'pricing', 'pricing'])
        await data(
          `mutation($c: ID, $p: JSON) { trackContactEvent(input: { contactId: $c, name: "viewed", properties: $p }) { __typename } }`,
          { c: lead, p: { page } },
        );
      const scored = await data(
        `query($id: ID!) { contact(id: $id) { points tags stageId pointGroups { group { name } points }
          stageHistory { fromStageId toStageId reason } } }`,
        { id: lead },
      );
      expect(scored.contact).toEqual({
        points: 0,
        tags: ['sales-ready'],
        stageId: stage,
        pointGroups: [{ group: { name: 'Product interest' }, points: 75 }],
        stageHistory: [{ fromStageId: null, toStageId: stage, reason: 'TRIGGER' }],
      });

      const category = (
        await data('mutation { createCategory(input: { name: "Newsletters" }) { ... on Category { id } } }')
      ).createCategory.id;
      const segment = (
        await data('mutation { createSegment(input: { name: "Weekly", kind: STATIC }) { ... on Segment { id } } }')
      ).createSegment.id;
      const filed = await data(
        `mutation($s: ID!, $c: ID) { setSegmentCategory(input: { segmentId: $s, categoryId: $c }) { ... on Segment { categoryId } } }`,
        { s: segment, c: category },
      );
      expect(filed.setSegmentCategory.categoryId).toBe(category);
      const listed = await data('query($c: ID) { segments(first: 10, categoryId: $c) { edges { node { name } } } }', {
        c: category,
      });
      expect(listed.segments.edges).toEqual([{ node: { name: 'Weekly' } }]);
    });

    it('holds API keys to their scopes', async () => {
      const key = await gql(
        platform.url,
        `mutation { createApiKey(input: { name: "reader", scopes: ["crm:read"] }) { ... on CreatedApiKey { secret } } }`,
        {},
        { token },
      );
      const secret = key.data!.createApiKey.secret;
      expect((await call(LIST, { first: 1 }, secret)).data?.contacts.totalCount).toBeGreaterThan(0);
      const write = await call(CREATE, { input: { email: 'reader-made@example.com' } }, secret);
      expect(write.data?.createContact).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    });

    it("publishes a journey naming a delivery template and CRM's segment and field, once their events reached it", async () => {
      // An organization of its own: the journey context learns its template, segment and field from events only.
      const own = (await signUp(platform.url, 'journeys')).session.accessToken;
      const as = async (query: string, variables: Record<string, unknown> = {}) => {
        const result = await call(query, variables, own);
        expect(result.errors).toBeUndefined();
        return result.data!;
      };
      const template = (
        await as(
          `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename ... on Template { id } } }`,
          { input: { name: 'welcome', channel: 'EMAIL', source: { html: '<p>Hi</p>', subject: 'Hi' } } },
        )
      ).createTemplate.id;
      const segment = (await as(CREATE_SEGMENT, { input: { name: 'Onboarded', kind: 'STATIC' } })).createSegment.id;
      const field = { entity: 'CONTACT', key: 'renewal', label: 'Renewal', type: 'DATE' };
      expect((await as(CREATE_FIELD, { input: field })).createField.__typename).toBe('FieldDefinition');
      const definition = (templateId: string) => ({
        entry: [{ type: 'api' }],
        start: 'send',
        steps: {
          send: { type: 'send', channel: 'email', templateId, next: 'list' },
          list: { type: 'segment', action: 'add', segmentId: segment, next: 'check' },
          check: { type: 'condition', filter: { field: 'fields.renewal', op: 'notEmpty' }, yes: 'done', no: 'done' },
          done: { type: 'exit' },
        },
        settings: { entryRule: { kind: 'once' } },
      });
      const journey = (
        await as(
          `mutation($input: CreateJourneyInput!) { createJourney(input: $input) { __typename ... on Journey { id } } }`,
          { input: { name: 'Welcome', definition: definition(template) } },
        )
      ).createJourney.id;
      const issues = async (templateId = template) =>
        (
          await as(
            `mutation($input: ValidateJourneyInput!) { validateJourney(input: $input) { ... on JourneyValidation { issues { stepId code } } } }`,
            { input: { id: journey, definition: definition(templateId) } },
          )
        ).validateJourney.issues;
      // A template no one created stays unknown.
      expect(await issues('01900000-0000-7000-8000-000000000000')).toContainEqual({
        stepId: 'send',
        code: 'unknown_template',
      });
      await vi.waitFor(async () => expect(await issues()).toEqual([]), { timeout: 30_000, interval: 200 });
      const published = await as(
        `mutation($input: PublishJourneyInput!) { publishJourney(input: $input) {
          __typename ... on Journey { status version } ... on JourneyValidationError { issues { stepId code } } } }`,
        { input: { id: journey } },
      );
      expect(published.publishJourney).toEqual({ __typename: 'Journey', status: 'ACTIVE', version: 1 });

      // Deleted in CRM, the segment is unknown to the next version.
      const deleted = await as(
        `mutation($input: DeleteSegmentInput!) { deleteSegment(input: $input) { __typename } }`,
        { input: { id: segment } },
      );
      expect(deleted.deleteSegment.__typename).toBe('Segment');
      await vi.waitFor(async () => expect(await issues()).toEqual([{ stepId: 'list', code: 'unknown_segment' }]), {
        timeout: 30_000,
        interval: 200,
      });
    });
  });
}
