// Segments whose filters read the clock are rebuilt on a schedule, so membership follows time.
import { unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DATABASES, newOrg, openCrm } from './harness.ts';

describe.each(DATABASES)('time-dependent segments (%s)', (_name, open) => {
  let clock = new Date();
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open, () => clock, { refreshIntervalMs: 300 });
  });
  afterAll(() => crm?.close());

  it('lets a contact age out of "active in the last 2 hours" without any change to the contact', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    unwrap(
      await s.trackContactEvent(ctx, {
        contactId: ada.id,
        name: 'visit',
        occurredAt: new Date(Date.now() - 60 * 60_000),
      }),
    );
    const recent = unwrap(
      await s.createSegment(ctx, {
        name: 'recently active',
        filter: { field: 'lastActiveAt', op: 'gte', value: '-2 hours' },
      }),
    );
    const still = unwrap(await s.createSegment(ctx, { name: 'has email', filter: { field: 'email', op: 'notEmpty' } }));
    // The creation's background rebuild fills it.
    await vi.waitFor(async () => expect(unwrap(await s.getSegment(ctx, recent.id))?.memberCount).toBe(1), {
      timeout: 10_000,
      interval: 50,
    });

    // Three hours later, the scheduled refresh takes Ada out; the clock-free segment is left alone.
    clock = new Date(Date.now() + 3 * 3600_000);
    await vi.waitFor(async () => expect(unwrap(await s.getSegment(ctx, recent.id))?.memberCount).toBe(0), {
      timeout: 10_000,
      interval: 50,
    });
    const stillRow = unwrap(await s.getSegment(ctx, still.id));
    expect(stillRow?.memberCount).toBe(1);
    const rebuiltAt = stillRow?.rebuiltAt?.getTime();
    await new Promise((r) => setTimeout(r, 700));
    expect(unwrap(await s.getSegment(ctx, still.id))?.rebuiltAt?.getTime()).toBe(rebuiltAt);
    expect(await s.scheduleTimeDependentRefreshes()).toBeGreaterThanOrEqual(1);
  });
});
