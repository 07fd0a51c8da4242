// Journeys' use cases on real databases: drafts saved with their issues, publishing immutable
// versions, every lifecycle move (legal and not), who may do what, runs and per-step stats.
import { type RequestContext, unwrap } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox, runs } from '../src/db/schema.ts';
import type { JourneyDefinition } from '../src/domain/definition.ts';
import { JourneyTransitionError, JourneyValidationError } from '../src/domain/errors.ts';
import {
  anonymous,
  DATABASES,
  type Journey,
  memberOf,
  newOrg,
  openJourney,
  seedContact,
  seedField,
  seedRun,
  seedSegment,
  seedTemplate,
} from './harness.ts';

const PAGE = { fetch: 51, limit: 50 };

describe.each(DATABASES)('journeys (%s)', (_name, open) => {
  let env: Journey;
  beforeAll(async () => {
    env = await openJourney(open);
  });
  afterAll(() => env?.close());

  const s = () => env.services;

  /** An organization with a template, a segment and a date field in the copies the checks read. */
  async function organization() {
    const ctx = newOrg();
    const email = await seedTemplate(env.handle, ctx.organizationId, 'email');
    const sms = await seedTemplate(env.handle, ctx.organizationId, 'sms');
    const segment = await seedSegment(env.handle, ctx.organizationId, 'dynamic');
    await seedField(env.handle, ctx.organizationId, 'renewal', 'date');
    return { ctx, email, sms, segment };
  }

  /** Entered on a segment: welcome email, a day, a condition, a goal or an exit. */
  const welcome = (template: string, segment: string): JourneyDefinition => ({
    entry: [{ type: 'segmentEntered', segmentId: segment }, { type: 'api' }],
    start: 'hello',
    steps: {
      hello: { type: 'send', channel: 'email', templateId: template, next: 'later' },
      later: { type: 'delay', wait: { duration: '1 day' }, next: 'check' },
      check: { type: 'condition', filter: { field: 'fields.renewal', op: 'notEmpty' }, yes: 'won', no: 'out' },
      won: { type: 'goal', name: 'Won' },
      out: { type: 'exit' },
    },
    settings: { entryRule: { kind: 'once' } },
  });

  const eventsOf = async (subjectId: string) =>
    (
      await env.handle.db
        .select({ type: outbox.type, envelope: outbox.envelope })
        .from(outbox)
        .where(sql`${outbox.key} = ${subjectId}`)
        .orderBy(outbox.seq)
    ).map((r) => ({ type: r.type, data: (r.envelope as { data: Record<string, unknown> }).data }));

  const errorOf = <E>(result: { ok: boolean; error?: unknown }) => {
    expect(result.ok).toBe(false);
    return (result as { error: E }).error;
  };

  describe('drafts', () => {
    it('starts a journey as a draft that could be published as it is, and says so on the outbox', async () => {
      const { ctx } = await organization();
      const journey = unwrap(await s().createJourney(ctx, { name: 'Onboarding' }));
      expect(journey).toMatchObject({ name: 'Onboarding', status: 'draft', version: 0, currentVersionId: null });
      expect(await s().draftIssues(journey)).toEqual([]);
      expect(await eventsOf(journey.id)).toEqual([{ type: 'journey.journey.created', data: { name: 'Onboarding' } }]);
    });

    it('saves an invalid draft and reports its issues, each pointing at its step', async () => {
      const { ctx, sms, segment } = await organization();
      const draft = welcome(sms, segment);
      draft.steps.lost = { type: 'exit' };
      const journey = unwrap(await s().createJourney(ctx, { name: 'Broken', definition: draft }));
      const issues = (await s().draftIssues(journey)).map((i) => [i.stepId, i.code]);
      expect(issues).toEqual([
        ['lost', 'unreachable_step'],
        ['hello', 'wrong_template_channel'],
      ]);
      expect(unwrap(await s().validateJourney(ctx, { id: journey.id }))).toMatchObject({
        valid: false,
        issues: [
          { code: 'unreachable_step' },
          { code: 'wrong_template_channel', path: ['steps', 'hello', 'templateId'] },
        ],
      });
    });

    it('validates a definition given instead of the draft, without saving it', async () => {
      const { ctx, email, segment } = await organization();
      const journey = unwrap(await s().createJourney(ctx, { name: 'Editor' }));
      expect(unwrap(await s().validateJourney(ctx, { id: journey.id, definition: welcome(email, segment) }))).toEqual({
        valid: true,
        issues: [],
      });
      expect(unwrap(await s().validateJourney(ctx, { id: journey.id, definition: { steps: 'no' } })).valid).toBe(false);
      expect(unwrap(await s().getJourney(ctx, journey.id))?.definition).toEqual(journey.definition);
    });

    it('edits the name, the description and the draft, and refuses a draft that is not a JSON object', async () => {
      const { ctx, email, segment } = await organization();
      const journey = unwrap(await s().createJourney(ctx, { name: 'A', description: 'first' }));
      const edited = unwrap(
        await s().updateJourney(ctx, {
          id: journey.id,
          name: 'B',
          description: null,
          definition: welcome(email, segment),
        }),
      );
      expect(edited).toMatchObject({ name: 'B', description: null, definition: welcome(email, segment) });
      const refused = errorOf<{ code: string }>(
        await s().updateJourney(ctx, { id: journey.id, definition: ['not', 'an', 'object'] as never }),
      );
      expect(refused.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('publishing', () => {
    it('refuses an invalid draft with every issue, and publishes nothing', async () => {
      const { ctx, segment } = await organization();
      const journey = unwrap(
        await s().createJourney(ctx, {
          name: 'Bad',
          definition: welcome('01900000-0000-7000-8000-0000000000ff', segment),
        }),
      );
      const error = errorOf<JourneyValidationError>(await s().publishJourney(ctx, { id: journey.id }));
      expect(error).toBeInstanceOf(JourneyValidationError);
      expect(error.issues).toEqual([
        {
          stepId: 'hello',
          path: ['steps', 'hello', 'templateId'],
          code: 'unknown_template',
          message: expect.any(String),
        },
      ]);
      expect(unwrap(await s().getJourney(ctx, journey.id))).toMatchObject({ status: 'draft', version: 0 });
      expect(await s().versionsOf(journey)).toEqual([]);
      expect((await eventsOf(journey.id)).map((e) => e.type)).toEqual(['journey.journey.created']);
    });

    it('snapshots the draft as version 1, defaults filled in, and announces it with its entry keys', async () => {
      const { ctx, email, segment } = await organization();
      const draft = welcome(email, segment);
      delete (draft as Partial<JourneyDefinition>).settings;
      const journey = unwrap(await s().createJourney(ctx, { name: 'Welcome', definition: draft }));
      const published = unwrap(await s().publishJourney(ctx, { id: journey.id }));
      expect(published).toMatchObject({
        status: 'active',
        version: 1,
        entryKeys: ['api', `segmentEntered:${segment}`],
      });
      const [v1] = await s().versionsOf(published);
      expect(v1).toMatchObject({
        id: published.currentVersionId,
        version: 1,
        publishedBy: (ctx.actor as { id: string }).id,
        definition: { ...draft, settings: { entryRule: { kind: 'once' } } },
      });
      expect((await eventsOf(journey.id)).at(-1)).toEqual({
        type: 'journey.journey.published',
        data: { name: 'Welcome', versionId: v1!.id, version: 1, entryKeys: ['api', `segmentEntered:${segment}`] },
      });
    });

    it('publishes v2 while v1 runs: v1 stays as it was, its runs stay on it, and no version can be changed', async () => {
      const { ctx, email, sms, segment } = await organization();
      const journey = unwrap(await s().createJourney(ctx, { name: 'Two', definition: welcome(email, segment) }));
      unwrap(await s().publishJourney(ctx, { id: journey.id }));
      const contact = await seedContact(s(), ctx.organizationId);
      const onV1 = await seedRun(env.handle, ctx.organizationId, {
        journeyId: journey.id,
        version: 1,
        contactId: contact,
        state: 'waiting',
        stepId: 'later',
        log: [{ stepId: 'hello' }],
      });

      const v2Draft = welcome(email, segment);
      v2Draft.steps.hello = { type: 'send', channel: 'sms', templateId: sms, next: 'later' };
      unwrap(await s().updateJourney(ctx, { id: journey.id, definition: v2Draft }));
      const v2 = unwrap(await s().publishJourney(ctx, { id: journey.id }));
      expect(v2).toMatchObject({ status: 'active', version: 2 });

      const versions = await s().versionsOf(v2);
      expect(versions.map((v) => v.version)).toEqual([2, 1]);
      expect(versions[0]!.id).toBe(v2.currentVersionId);
      expect(versions[1]!.definition).toEqual(welcome(email, segment));
      expect(versions[0]!.definition).toEqual(v2Draft);
      const onFirst = unwrap(await s().listRuns(ctx, { journeyId: journey.id, version: 1 }, PAGE));
      expect(onFirst.edges.map((e) => [e.node.id, e.node.version])).toEqual([[onV1, 1]]);
      await expect(
        env.handle.db.execute(sql`update journey.journey_versions set definition = '{}' where id = ${versions[1]!.id}`),
      ).rejects.toThrow();
      expect((await s().versionsOf(v2))[1]!.definition).toEqual(welcome(email, segment));
    });
  });

  describe('lifecycle', () => {
    const transitionOf = (result: { ok: boolean; error?: unknown }) => {
      const error = errorOf<JourneyTransitionError>(result);
      expect(error).toBeInstanceOf(JourneyTransitionError);
      return [error.status, error.action];
    };

    it('moves draft -> active -> paused -> active -> archived -> deleted, and refuses every other move', async () => {
      const { ctx, email, segment } = await organization();
      const id = unwrap(await s().createJourney(ctx, { name: 'Life', definition: welcome(email, segment) })).id;
      const status = async () => unwrap(await s().getJourney(ctx, id))?.status;

      expect(transitionOf(await s().pauseJourney(ctx, { id }))).toEqual(['draft', 'pause']);
      expect(transitionOf(await s().resumeJourney(ctx, { id }))).toEqual(['draft', 'resume']);
      unwrap(await s().publishJourney(ctx, { id }));
      expect(await status()).toBe('active');
      expect(transitionOf(await s().resumeJourney(ctx, { id }))).toEqual(['active', 'resume']);
      expect(transitionOf(await s().deleteJourney(ctx, { id }))).toEqual(['active', 'delete']);

      unwrap(await s().pauseJourney(ctx, { id }));
      expect(await status()).toBe('paused');
      expect(transitionOf(await s().pauseJourney(ctx, { id }))).toEqual(['paused', 'pause']);
      expect(transitionOf(await s().deleteJourney(ctx, { id }))).toEqual(['paused', 'delete']);
      // A new version while paused: it stays paused until resumed.
      expect(unwrap(await s().publishJourney(ctx, { id }))).toMatchObject({ status: 'paused', version: 2 });
      unwrap(await s().resumeJourney(ctx, { id }));
      expect(await status()).toBe('active');

      unwrap(await s().archiveJourney(ctx, { id }));
      expect(await status()).toBe('archived');
      expect(transitionOf(await s().updateJourney(ctx, { id, name: 'x' }))).toEqual(['archived', 'edit']);
      expect(transitionOf(await s().publishJourney(ctx, { id }))).toEqual(['archived', 'publish']);
      expect(transitionOf(await s().pauseJourney(ctx, { id }))).toEqual(['archived', 'pause']);
      expect(transitionOf(await s().resumeJourney(ctx, { id }))).toEqual(['archived', 'resume']);
      expect(transitionOf(await s().archiveJourney(ctx, { id }))).toEqual(['archived', 'archive']);

      unwrap(await s().deleteJourney(ctx, { id }));
      expect(await status()).toBeUndefined();
      expect((await eventsOf(id)).map((e) => e.type)).toEqual([
        'journey.journey.created',
        'journey.journey.published',
        'journey.journey.paused',
        'journey.journey.published',
        'journey.journey.resumed',
        'journey.journey.archived',
        'journey.journey.deleted',
      ]);
    });

    it('archives a draft, and deletes a draft', async () => {
      const { ctx } = await organization();
      const archived = unwrap(await s().createJourney(ctx, { name: 'Never' }));
      expect(unwrap(await s().archiveJourney(ctx, { id: archived.id })).status).toBe('archived');
      const draft = unwrap(await s().createJourney(ctx, { name: 'Gone' }));
      expect(unwrap(await s().deleteJourney(ctx, { id: draft.id })).id).toBe(draft.id);
      expect(unwrap(await s().getJourney(ctx, draft.id))).toBeNull();
    });

    it('archiving exits the runs in progress, each with its event, and leaves ended runs be', async () => {
      const { ctx, email, segment } = await organization();
      const journey = unwrap(await s().createJourney(ctx, { name: 'Stop', definition: welcome(email, segment) }));
      unwrap(await s().publishJourney(ctx, { id: journey.id }));
      const [a, b, c] = [
        await seedContact(s(), ctx.organizationId),
        await seedContact(s(), ctx.organizationId),
        await seedContact(s(), ctx.organizationId),
      ];
      const base = { journeyId: journey.id, version: 1 };
      const ready = await seedRun(env.handle, ctx.organizationId, {
        ...base,
        contactId: a,
        state: 'ready',
        stepId: 'hello',
      });
      const waiting = await seedRun(env.handle, ctx.organizationId, {
        ...base,
        contactId: b,
        state: 'waiting',
        stepId: 'later',
      });
      const done = await seedRun(env.handle, ctx.organizationId, {
        ...base,
        contactId: c,
        state: 'converted',
        stepId: 'won',
      });

      unwrap(await s().archiveJourney(ctx, { id: journey.id }));
      const states = await env.handle.db
        .select({ id: runs.id, state: runs.state, dueAt: runs.dueAt, endedAt: runs.endedAt })
        .from(runs)
        .where(sql`${runs.journeyId} = ${journey.id}`);
      const byId = new Map(states.map((r) => [r.id, r]));
      expect(byId.get(ready)).toMatchObject({ state: 'exited', dueAt: null, endedAt: expect.any(Date) });
      expect(byId.get(waiting)).toMatchObject({ state: 'exited', dueAt: null });
      expect(byId.get(done)?.state).toBe('converted');
      for (const [contact, stepId] of [
        [a, 'hello'],
        [b, 'later'],
      ] as const)
        expect(await eventsOf(contact)).toContainEqual({
          type: 'journey.run.exited',
          data: expect.objectContaining({ journeyId: journey.id, version: 1, stepId, reason: 'archived' }),
        });
      expect((await eventsOf(c)).map((e) => e.type)).not.toContain('journey.run.exited');
    });

    it('deleting an archived journey takes its versions and runs with it', async () => {
      const { ctx, email, segment } = await organization();
      const journey = unwrap(await s().createJourney(ctx, { name: 'Purge', definition: welcome(email, segment) }));
      unwrap(await s().publishJourney(ctx, { id: journey.id }));
      const contact = await seedContact(s(), ctx.organizationId);
      await seedRun(env.handle, ctx.organizationId, {
        journeyId: journey.id,
        version: 1,
        contactId: contact,
        state: 'completed',
        stepId: 'out',
        log: [{ stepId: 'hello' }, { stepId: 'out' }],
      });
      unwrap(await s().archiveJourney(ctx, { id: journey.id }));
      unwrap(await s().deleteJourney(ctx, { id: journey.id }));
      expect(unwrap(await s().listRuns(ctx, { contactId: contact }, PAGE)).totalCount).toBe(0);
      const [left] = await env.handle.rows<{ n: number }>(
        sql`select (select count(*) from journey.journey_versions where journey_id = ${journey.id})::int
                 + (select count(*) from journey.step_log where journey_id = ${journey.id})::int as n`,
      );
      expect(left!.n).toBe(0);
    });
  });

  describe('who may do what', () => {
    it('lets viewers read and validate, editors change and move journeys, and only admins delete', async () => {
      const { ctx } = await organization();
      const viewer = memberOf(ctx, 'viewer', ['*:read']);
      const editor = memberOf(ctx, 'editor', ['*:read', '*:write']);
      const journey = unwrap(await s().createJourney(editor, { name: 'Team' }));
      expect(unwrap(await s().getJourney(viewer, journey.id))?.id).toBe(journey.id);
      expect(unwrap(await s().validateJourney(viewer, { id: journey.id })).valid).toBe(true);
      const forbidden = (r: { ok: boolean; error?: unknown }) => errorOf<{ code: string; required: string }>(r);
      expect(forbidden(await s().createJourney(viewer, { name: 'No' }))).toMatchObject({
        code: 'FORBIDDEN',
        required: 'journey:write',
      });
      expect(forbidden(await s().publishJourney(viewer, { id: journey.id })).code).toBe('FORBIDDEN');
      expect(forbidden(await s().deleteJourney(editor, { id: journey.id }))).toMatchObject({
        required: 'journey:admin',
      });
      unwrap(await s().archiveJourney(editor, { id: journey.id }));
      for (const result of [
        await s().getJourney(anonymous(), journey.id),
        await s().listRuns(anonymous(), {}, PAGE),
        await s().createJourney(anonymous(), { name: 'x' }),
      ])
        expect(errorOf<{ code: string }>(result).code).toBe('UNAUTHENTICATED');
    });

    it("answers not found for another organization's journey", async () => {
      const a = await organization();
      const b = await organization();
      const journey = unwrap(await s().createJourney(a.ctx, { name: 'Mine' }));
      expect(unwrap(await s().getJourney(b.ctx, journey.id))).toBeNull();
      for (const result of [
        await s().updateJourney(b.ctx, { id: journey.id, name: 'Theirs' }),
        await s().publishJourney(b.ctx, { id: journey.id }),
        await s().validateJourney(b.ctx, { id: journey.id }),
        await s().deleteJourney(b.ctx, { id: journey.id }),
      ])
        expect(errorOf<{ code: string }>(result).code).toBe('NOT_FOUND');
    });
  });

  describe('lists and stats', () => {
    async function journeyWithRuns(ctx: RequestContext & { organizationId: string }, email: string, segment: string) {
      const journey = unwrap(await s().createJourney(ctx, { name: 'Counted', definition: welcome(email, segment) }));
      unwrap(await s().publishJourney(ctx, { id: journey.id }));
      const contacts = await Promise.all([1, 2, 3, 4, 5].map(() => seedContact(s(), ctx.organizationId)));
      const base = { journeyId: journey.id, version: 1 };
      const seeded = [
        { contactId: contacts[0]!, state: 'exited', stepId: 'out', log: ['hello', 'later', 'check', 'out'] },
        { contactId: contacts[1]!, state: 'converted', stepId: 'won', log: ['hello', 'later', 'check', 'won'] },
        { contactId: contacts[2]!, state: 'waiting', stepId: 'later', log: ['hello'] },
        { contactId: contacts[3]!, state: 'ready', stepId: 'hello', log: [] },
      ] as const;
      const ids: string[] = [];
      for (const run of seeded)
        ids.push(
          await seedRun(env.handle, ctx.organizationId, {
            ...base,
            ...run,
            log: run.log.map((stepId) => ({ stepId })),
          }),
        );
      ids.push(
        await seedRun(env.handle, ctx.organizationId, {
          ...base,
          contactId: contacts[4]!,
          state: 'failed',
          stepId: 'hello',
          log: [{ stepId: 'hello', status: 'failed' }],
        }),
      );
      return { journey, contacts, ids };
    }

    it('counts per step and per goal, set-based, for every version or one', async () => {
      const { ctx, email, segment } = await organization();
      const { journey } = await journeyWithRuns(ctx, email, segment);
      const row = unwrap(await s().getJourney(ctx, journey.id))!;
      const stats = await s().journeyStats(row);
      expect({ ...stats, steps: undefined, goals: undefined }).toEqual({
        entered: 5,
        active: 2,
        completed: 0,
        converted: 1,
        exited: 1,
        failed: 1,
        steps: undefined,
        goals: undefined,
      });
      const step = (entered: number, completed: number, failed: number, waiting: number, converted: number) => ({
        entered,
        completed,
        skipped: 0,
        failed,
        waiting,
        converted,
      });
      expect(stats.steps).toEqual([
        { stepId: 'hello', type: 'send', ...step(5, 3, 1, 1, 1) },
        { stepId: 'later', type: 'delay', ...step(3, 2, 0, 1, 1) },
        { stepId: 'check', type: 'condition', ...step(2, 2, 0, 0, 1) },
        { stepId: 'won', type: 'goal', ...step(1, 1, 0, 0, 1) },
        { stepId: 'out', type: 'exit', ...step(1, 1, 0, 0, 0) },
      ]);
      expect(stats.goals).toEqual([{ stepId: 'won', name: 'Won', converted: 1, rate: 0.2 }]);

      unwrap(await s().publishJourney(ctx, { id: journey.id }));
      const v2 = await s().journeyStats(unwrap(await s().getJourney(ctx, journey.id))!, 2);
      expect(v2.entered).toBe(0);
      expect(v2.steps.map((x) => [x.stepId, x.entered])).toEqual([
        ['hello', 0],
        ['later', 0],
        ['check', 0],
        ['won', 0],
        ['out', 0],
      ]);
      expect((await s().journeyStats(row, 1)).entered).toBe(5);
      expect(await s().journeyStats(row, 99)).toMatchObject({ entered: 0, steps: [], goals: [] });
    });

    it('lists runs newest first, filtered by journey, version, contact and state, with their step log', async () => {
      const { ctx, email, segment } = await organization();
      const { journey, contacts, ids } = await journeyWithRuns(ctx, email, segment);
      const other = unwrap(await s().createJourney(ctx, { name: 'Other', definition: welcome(email, segment) }));
      unwrap(await s().publishJourney(ctx, { id: other.id }));
      const elsewhere = await seedRun(env.handle, ctx.organizationId, {
        journeyId: other.id,
        version: 1,
        contactId: contacts[0]!,
        state: 'ready',
        stepId: 'hello',
      });
      const list = async (filter: Parameters<Journey['services']['listRuns']>[1], window = PAGE) =>
        unwrap(await s().listRuns(ctx, filter, window));
      const idsOf = (page: Awaited<ReturnType<typeof list>>) => page.edges.map((e) => e.node.id);

      expect(idsOf(await list({ journeyId: journey.id }))).toEqual([...ids].reverse());
      expect(idsOf(await list({ journeyId: journey.id, state: 'waiting' }))).toEqual([ids[2]]);
      expect(idsOf(await list({ contactId: contacts[0]! }))).toEqual([elsewhere, ids[0]]);
      expect(idsOf(await list({ journeyId: journey.id, version: 2 }))).toEqual([]);
      const first = await list({ journeyId: journey.id }, { fetch: 3, limit: 2 });
      expect(first).toMatchObject({ totalCount: 5, pageInfo: { hasNextPage: true } });
      expect(first.edges.map((e) => e.node.version)).toEqual([1, 1]);

      const converted = (await list({ journeyId: journey.id, state: 'converted' })).edges[0]!.node;
      expect((await s().stepsOf(converted)).map((e) => [e.stepId, e.visit, e.status])).toEqual([
        ['hello', 1, 'completed'],
        ['later', 1, 'completed'],
        ['check', 1, 'completed'],
        ['won', 1, 'completed'],
      ]);
    });

    it('lists journeys, by status', async () => {
      const { ctx } = await organization();
      const draft = unwrap(await s().createJourney(ctx, { name: 'D' }));
      const archived = unwrap(await s().createJourney(ctx, { name: 'A' }));
      unwrap(await s().archiveJourney(ctx, { id: archived.id }));
      const ids = async (status?: 'draft' | 'archived') =>
        unwrap(await s().listJourneys(ctx, status ? { status } : {}, PAGE)).edges.map((e) => e.node.id);
      expect(await ids()).toEqual([archived.id, draft.id]);
      expect(await ids('draft')).toEqual([draft.id]);
      expect(await ids('archived')).toEqual([archived.id]);
    });
  });
});
