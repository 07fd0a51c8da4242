// Template previews scored for spam by a real Rspamd (scripts/services.sh starts Debian's on
// 127.0.0.1:11333): the score, the score at which Rspamd rejects, its action and the rules that
// fired, largest effect first; nothing without a checker or for other channels; a checker that
// does not answer is a typed error, not a broken preview.
import { newId, unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rspamdChecker } from '../src/providers/rspamd.ts';
import { DATABASES, newOrg, openDelivery } from './harness.ts';

const RSPAMD_URL = process.env.RSPAMD_TEST_URL ?? 'http://127.0.0.1:11333';
/** The standard test string every spam filter rejects (GTUBE). */
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

describe('spam scores of template previews (Rspamd)', () => {
  const [, open] = DATABASES[0];
  let env: Awaited<ReturnType<typeof openDelivery>>;
  beforeAll(async () => {
    env = await openDelivery(open, () => new Date(), { spamChecker: rspamdChecker(RSPAMD_URL) });
  });
  afterAll(() => env?.close());

  async function preview(ctx: ReturnType<typeof newOrg>, source: Record<string, unknown>, channel = 'email') {
    const template = unwrap(
      await env.services.createTemplate(ctx, { name: `t-${newId()}`, channel, category: 'marketing', source } as never),
    );
    return unwrap(await env.services.previewTemplate(ctx, { templateId: template.id }));
  }

  it('a message Rspamd rejects shows as reject, at or above the required score', async () => {
    const ctx = newOrg();
    const p = await preview(ctx, { subject: 'Test', html: `<p>${GTUBE}</p>` });
    const report = unwrap(await env.services.scorePreview(ctx, p));
    expect(report?.action).toBe('reject');
    expect(report!.score).toBeGreaterThanOrEqual(report!.requiredScore);
  });

  it('a plain receipt passes with no action, and every rule listed moved the score, largest first', async () => {
    const ctx = newOrg();
    unwrap(await env.services.updateSettings(ctx, { defaultFromAddress: 'orders@shop.example' }));
    const p = await preview(ctx, {
      subject: 'Your receipt for order 1042',
      html: '<p>Hello {{contact.firstName}},</p><p>Thank you for your order. It ships on Monday.</p>',
    });
    const report = unwrap(await env.services.scorePreview(ctx, p))!;
    expect(report.action).toBe('no action');
    expect(report.score).toBeLessThan(report.requiredScore);
    expect(report.rules.every((r) => r.score !== 0)).toBe(true);
    const effects = report.rules.map((r) => Math.abs(r.score));
    expect(effects).toEqual([...effects].sort((a, b) => b - a));
    // The rules add up to the score (Rspamd's own sum, to rounding).
    expect(report.rules.reduce((sum, r) => sum + r.score, 0)).toBeCloseTo(report.score, 1);
  });

  it('an all-capitals subject scores worse than the same message written normally', async () => {
    const ctx = newOrg();
    const html = '<p>Our spring collection is here, with new colours and sizes.</p>';
    const calm = unwrap(
      await env.services.scorePreview(ctx, await preview(ctx, { subject: 'Our spring collection', html })),
    )!;
    const loud = unwrap(
      await env.services.scorePreview(ctx, await preview(ctx, { subject: 'OUR SPRING COLLECTION IS HERE NOW', html })),
    )!;
    expect(loud.score).toBeGreaterThan(calm.score);
    expect(loud.rules.map((r) => r.name)).toContain('SUBJ_ALL_CAPS');
  });

  it('no score for another channel, nor without a checker', async () => {
    const ctx = newOrg();
    const sms = await preview(ctx, { body: 'Hello {{contact.firstName}}' }, 'sms');
    expect(unwrap(await env.services.scorePreview(ctx, sms))).toBeNull();
    const bare = await openDelivery(open);
    try {
      const email = await preview(ctx, { subject: 'Hi', html: '<p>Hi</p>' });
      expect(unwrap(await bare.services.scorePreview(ctx, email))).toBeNull();
    } finally {
      await bare.close();
    }
  });

  it('a checker that does not answer is SPAM_CHECK_UNAVAILABLE', async () => {
    const ctx = newOrg();
    const down = await openDelivery(open, () => new Date(), { spamChecker: rspamdChecker('http://127.0.0.1:9', 1000) });
    try {
      const template = unwrap(
        await down.services.createTemplate(ctx, {
          name: 'down',
          channel: 'email',
          category: 'marketing',
          source: { subject: 'Hi', html: '<p>Hi</p>' },
        }),
      );
      const p = unwrap(await down.services.previewTemplate(ctx, { templateId: template.id }));
      const result = await down.services.scorePreview(ctx, p);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error.code).toBe('SPAM_CHECK_UNAVAILABLE');
    } finally {
      await down.close();
    }
  });
});
