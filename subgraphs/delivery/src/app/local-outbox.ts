// Embedded mode's default email provider keeps every message here, to be read at /outbox.
import type { DatabaseHandle } from '@mauntic/platform';
import { eq } from 'drizzle-orm';
import { localOutbox, messages } from '../db/schema.ts';
import type { EmailMessage, OutboxStore } from '../providers/index.ts';

export type LocalOutboxRow = typeof localOutbox.$inferSelect;

/** Stores a message once (a resend after a crash keeps the first copy). */
export function localOutboxStore(handle: DatabaseHandle): OutboxStore {
  return async (message: EmailMessage) => {
    const [owner] = await handle.db
      .select({ organizationId: messages.organizationId })
      .from(messages)
      .where(eq(messages.id, message.messageId));
    await handle.db
      .insert(localOutbox)
      .values({
        organizationId: owner?.organizationId ?? '00000000-0000-0000-0000-000000000000',
        messageId: message.messageId,
        fromAddress: message.from.name ? `${message.from.name} <${message.from.address}>` : message.from.address,
        toAddress: message.to,
        subject: message.subject,
        html: message.html,
        text: message.text,
        headers: message.headers,
      })
      .onConflictDoNothing();
  };
}
