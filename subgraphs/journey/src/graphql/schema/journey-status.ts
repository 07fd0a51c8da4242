// Where a journey's lifecycle stands (domain/lifecycle.ts).
import { builder } from '../builder.ts';

export const JourneyStatusEnum = builder.enumType('JourneyStatus', {
  values: {
    DRAFT: { value: 'draft', description: 'Never published' },
    ACTIVE: { value: 'active', description: 'Contacts enter and walk the current version' },
    PAUSED: { value: 'paused', description: 'Runs hold at their step; timers keep their due time' },
    ARCHIVED: { value: 'archived', description: 'Stopped for good' },
  } as const,
});
