// Stage history on real databases: every move of a contact along the pipeline, by hand (an
// update, an upsert, a batch upsert), by a point trigger or by a journey step, is kept (from, to, when, why) and published once.
import { catalogue, createEvent, newId, unwrap } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox, stageChanges } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm, runGraphql } from './harness.ts';

describe.each(DATABASES)('stage history (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  let bus: LocalEventBus;
  beforeAll(async () => {
    crm = await openCrm(open);
    bus = new LocalEventBus({ logger: createLogger('test', 'silent') });
    for (const subscription of crm.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
  });
  afterAll(async () => {
    await bus?.stop();
    await crm?.close();
  });

  it('records each move with its reason and publishes crm.contact.stage-changed', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const [lead, mql, customer] = [
      unwrap(await s.createStage(ctx, { name: 'Lead', position: 1 })),
      unwrap(await s.createStage(ctx, { name: 'MQL', position: 2 })),
      unwrap(await s.createStage(ctx, { name: 'Customer', position: 3 })),
    ];
    unwrap(
      await s.createPointTrigger(ctx, {
        name: 'mql',
        threshold: 50,
        action: { type: 'change_stage', stageId: mql.id },
      }),
    );
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com', stageId: lead.id }));
    unwrap(await s.updateContact(ctx, ada.id, { firstName: 'Ada' })); // no stage given: no move
    unwrap(await s.updateContact(ctx, ada.id, { stageId: lead.id })); // the same stage: no move
    unwrap(await s.adjustPoints(ctx, { contactId: ada.id, delta: 60 }));
    const runId = newId();
    const journeyId = newId();
    const step = createEvent(catalogue.journeyActions.contactUpdateRequested, {
      organizationId: org,
      subjectId: ada.id,
      correlationId: newId(),
      data: { runId, journeyId, stepId: 's', idempotencyKey: `journey:${runId}:s:1`, stageId: customer.id },
    });
    await bus.publish([step]);
    await bus.publish([step]); // redelivered: applied once

    const read = await runGraphql(
      s,
      ctx,
      'query($id: ID!) { contact(id: $id) { stageId stageHistory { fromStageId toStageId reason actor changedAt } } }',
      { id: ada.id },
    );
    expect(read.errors).toBeUndefined();
    expect(read.data?.contact.stageId).toBe(customer.id);
    expect(read.data?.contact.stageHistory).toEqual([
      {
        fromStageId: null,
        toStageId: lead.id,
        reason: 'MANUAL',
        actor: ctx.actor.type === 'user' ? ctx.actor.id : null,
        changedAt: expect.any(String),
      },
      {
        fromStageId: lead.id,
        toStageId: mql.id,
        reason: 'TRIGGER',
        actor: expect.stringMatching(/^point-trigger:/),
        changedAt: expect.any(String),
      },
      {
        fromStageId: mql.id,
        toStageId: customer.id,
        reason: 'JOURNEY',
        actor: 'crm-journey-requests',
        changedAt: expect.any(String),
      },
    ]);
    const events = await crm.handle.db
      .select({ envelope: outbox.envelope })
      .from(outbox)
      .where(and(eq(outbox.organizationId, org), eq(outbox.type, 'crm.contact.stage-changed')))
      .orderBy(asc(outbox.seq));
    expect(events.map((e) => (e.envelope as { data: unknown }).data)).toEqual([
      { fromStageId: null, toStageId: lead.id, reason: 'manual' },
      { fromStageId: lead.id, toStageId: mql.id, reason: 'trigger' },
      { fromStageId: mql.id, toStageId: customer.id, reason: 'journey' },
    ]);
  });

  it('upserts by email, one or in a batch, record the moves they make too', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const [lead, customer] = [
      unwrap(await s.createStage(ctx, { name: 'Lead', position: 1 })),
      unwrap(await s.createStage(ctx, { name: 'Customer', position: 2 })),
    ];
    const grace = unwrap(await s.upsertContact(ctx, { email: 'grace@example.com', stageId: lead.id }));
    unwrap(await s.upsertContact(ctx, { email: 'GRACE@example.com', firstName: 'Grace' })); // no stage: no move
    unwrap(
      await s.batchUpsertContacts(ctx, [
        { email: 'grace@example.com', stageId: customer.id },
        { email: 'alan@example.com' },
      ]),
    );
    unwrap(await s.batchUpsertContacts(ctx, [{ email: 'grace@example.com', stageId: customer.id }])); // same stage
    const rows = await crm.handle.db
      .select({ from: stageChanges.fromStageId, to: stageChanges.toStageId, reason: stageChanges.reason })
      .from(stageChanges)
      .where(eq(stageChanges.contactId, grace.row.id))
      .orderBy(asc(stageChanges.changedAt), asc(stageChanges.id));
    expect(rows).toEqual([
      { from: null, to: lead.id, reason: 'manual' },
      { from: lead.id, to: customer.id, reason: 'manual' },
    ]);
    const events = await crm.handle.db
      .select({ envelope: outbox.envelope })
      .from(outbox)
      .where(and(eq(outbox.organizationId, ctx.organizationId), eq(outbox.type, 'crm.contact.stage-changed')))
      .orderBy(asc(outbox.seq));
    expect(events.map((e) => (e.envelope as { data: unknown }).data)).toEqual([
      { fromStageId: null, toStageId: lead.id, reason: 'manual' },
      { fromStageId: lead.id, toStageId: customer.id, reason: 'manual' },
    ]);
  });
  it("a merge that gives the winner the loser's stage records the move, and one that keeps its own records none", async () => {
    const ctx = newOrg();
    const s = crm.services;
    const [lead, customer] = [
      unwrap(await s.createStage(ctx, { name: 'Lead', position: 1 })),
      unwrap(await s.createStage(ctx, { name: 'Customer', position: 2 })),
    ];
    const staged = unwrap(await s.createContact(ctx, { email: 'staged@example.com', stageId: customer.id }));
    const bare = unwrap(await s.createContact(ctx, { email: 'bare@example.com' }));
    unwrap(await s.mergeContacts(ctx, { winnerId: bare.id, loserId: staged.id }));
    const kept = unwrap(await s.createContact(ctx, { email: 'kept@example.com', stageId: lead.id }));
    const other = unwrap(await s.createContact(ctx, { email: 'other@example.com', stageId: customer.id }));
    unwrap(await s.mergeContacts(ctx, { winnerId: kept.id, loserId: other.id }));

    const historyOf = (contactId: string) =>
      crm.handle.db
        .select({ from: stageChanges.fromStageId, to: stageChanges.toStageId, reason: stageChanges.reason })
        .from(stageChanges)
        .where(eq(stageChanges.contactId, contactId))
        .orderBy(asc(stageChanges.changedAt), asc(stageChanges.id));
    expect(await historyOf(bare.id)).toEqual([{ from: null, to: customer.id, reason: 'merge' }]);
    expect(await historyOf(kept.id)).toEqual([{ from: null, to: lead.id, reason: 'manual' }]);
    const events = await crm.handle.db
      .select({ subject: outbox.key, envelope: outbox.envelope })
      .from(outbox)
      .where(and(eq(outbox.organizationId, ctx.organizationId), eq(outbox.type, 'crm.contact.stage-changed')))
      .orderBy(asc(outbox.seq));
    expect(events.filter((e) => e.subject === bare.id).map((e) => (e.envelope as { data: unknown }).data)).toEqual([
      { fromStageId: null, toStageId: customer.id, reason: 'merge' },
    ]);
  });
});
