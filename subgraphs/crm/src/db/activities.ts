// Writing to a contact's timeline (crm.activities): point rules, contact changes and consumed
// events all record through here.
import { newId } from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { activities } from './schema.ts';

export interface NewActivity {
  organizationId: string;
  contactId: string;
  type: string;
  subject?: string | null;
  properties?: Record<string, unknown>;
  occurredAt?: Date;
}

/** Records CRM's own changes for the timeline (no segment work: the change itself did that). */
export async function recordOwnActivity(tx: Executor, activity: NewActivity): Promise<void> {
  await tx.insert(activities).values({
    id: newId(),
    organizationId: activity.organizationId,
    contactId: activity.contactId,
    type: activity.type,
    subject: activity.subject ?? null,
    properties: activity.properties ?? {},
    occurredAt: activity.occurredAt ?? new Date(),
  });
}
