import { describe, expect, it } from 'vitest';
import { durationMs, EMPTY_DEFINITION, entryKeys, journeyDefinition, stepsInOrder } from './definition.ts';
import { validateDefinition } from './validation.ts';

describe('journey definition', () => {
  it.each([
    ['30 seconds', 30_000],
    ['1 minute', 60_000],
    ['2 hours', 7_200_000],
    ['1day', 86_400_000],
    ['3 weeks', 1_814_400_000],
  ])('reads the duration %s', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it.each(['0 days', '1 month', 'soon', '-1 day', '522 weeks', ''])('refuses the duration %j', (text) => {
    expect(durationMs(text)).toBeNull();
  });

  it('starts a new journey with a draft that is valid as it is', () => {
    expect(validateDefinition(EMPTY_DEFINITION).issues).toEqual([]);
  });

  const pathsOf = (raw: unknown) => journeyDefinition.safeParse(raw).error?.issues.map((i) => i.path.join('.'));

  it('refuses step ids that are not lower-case names', () => {
    expect(pathsOf({ entry: [{ type: 'api' }], start: 'Start', steps: { Start: { type: 'exit' } } })).toEqual([
      'steps.Start',
      'start',
    ]);
  });

  it('refuses a delay with more than one kind of wait at once', () => {
    const wait = { duration: '1 day', until: '09:00' };
    expect(
      pathsOf({
        entry: [{ type: 'api' }],
        start: 'a',
        steps: { a: { type: 'delay', wait, next: 'b' }, b: { type: 'exit' } },
      }),
    ).toEqual(['steps.a.wait']);
  });

  it('keys the entry triggers for matching, once each', () => {
    const segment = '01900000-0000-7000-8000-0000000000d1';
    const { definition } = validateDefinition({
      entry: [
        { type: 'segmentEntered', segmentId: segment },
        { type: 'segmentExited', segmentId: segment },
        { type: 'event', event: 'crm.contact.tagged' },
        { type: 'event', event: 'custom', name: 'purchase' },
        { type: 'event', event: 'custom', name: 'purchase', where: { field: 'amount', op: 'gt', value: 1 } },
        { type: 'api' },
      ],
      start: 'end',
      steps: { end: { type: 'exit' } },
    });
    expect(entryKeys(definition!)).toEqual([
      'api',
      'event:crm.contact.tagged',
      'event:custom:purchase',
      `segmentEntered:${segment}`,
      `segmentExited:${segment}`,
    ]);
  });

  it('lists steps breadth first from the start, then the unreachable ones by id', () => {
    const { definition } = validateDefinition({
      entry: [{ type: 'api' }],
      start: 'first',
      steps: {
        zed: { type: 'exit' },
        end: { type: 'exit' },
        second: { type: 'condition', filter: { tags: { op: 'empty' } }, yes: 'end', no: 'first' },
        first: { type: 'delay', wait: { duration: '1 hour' }, next: 'second' },
        alpha: { type: 'exit' },
      },
    });
    expect(stepsInOrder(definition!)).toEqual(['first', 'second', 'end', 'alpha', 'zed']);
  });
});
