import { describe, expect, it } from 'vitest';
import { JourneyTransitionError } from './errors.ts';
import { type JourneyAction, type JourneyStatus, transition } from './lifecycle.ts';

const LEGAL: [JourneyStatus, JourneyAction, JourneyStatus | null][] = [
  ['draft', 'edit', 'draft'],
  ['active', 'edit', 'active'],
  ['paused', 'edit', 'paused'],
  ['draft', 'publish', 'active'],
  ['active', 'publish', 'active'],
  ['paused', 'publish', 'paused'],
  ['active', 'pause', 'paused'],
  ['paused', 'resume', 'active'],
  ['draft', 'archive', 'archived'],
  ['active', 'archive', 'archived'],
  ['paused', 'archive', 'archived'],
  ['draft', 'delete', null],
  ['archived', 'delete', null],
];

const ILLEGAL: [JourneyStatus, JourneyAction][] = [
  ['archived', 'edit'],
  ['archived', 'publish'],
  ['draft', 'pause'],
  ['paused', 'pause'],
  ['archived', 'pause'],
  ['draft', 'resume'],
  ['active', 'resume'],
  ['archived', 'resume'],
  ['archived', 'archive'],
  ['active', 'delete'],
  ['paused', 'delete'],
];

describe('journey lifecycle', () => {
  it.each(LEGAL)('a %s journey can be moved by %s (to %s)', (status, action, to) => {
    expect(transition(status, action)).toEqual({ ok: true, value: to });
  });

  it.each(ILLEGAL)('a %s journey refuses %s with a typed error', (status, action) => {
    const result = transition(status, action);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(JourneyTransitionError);
    expect(result.error).toMatchObject({ code: 'JOURNEY_ILLEGAL_TRANSITION', status, action });
  });
});
