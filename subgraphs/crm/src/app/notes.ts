// Notes on a contact: general, email, call or meeting.
import { authorize, fail, NotFoundError, newId, ok, type RequestContext } from '@mauntic/kernel';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { recordOwnActivity } from '../db/activities.ts';
import { contacts, notes } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';

export type NoteRow = typeof notes.$inferSelect;

export const noteInput = z.object({
  contactId: z.uuid(),
  type: z.enum(['general', 'email', 'call', 'meeting']).default('general'),
  body: z.string().trim().min(1).max(65_535),
});

export async function addNote(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof noteInput>) {
  const access = authorize(ctx, 'crm:write', noteInput, raw);
  if (!access.ok) return access;
  const { organizationId, userId, input } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [contact] = await tx
      .select({ id: contacts.id })
      .from(contacts)
      .where(and(eq(contacts.id, input.contactId), eq(contacts.organizationId, organizationId)));
    if (!contact) return fail(new NotFoundError('Contact', input.contactId));
    const [note] = await tx
      .insert(notes)
      .values({
        id: newId(),
        organizationId,
        contactId: contact.id,
        type: input.type,
        body: input.body,
        createdBy: userId ?? null,
      })
      .returning();
    await recordOwnActivity(tx, {
      organizationId,
      contactId: contact.id,
      type: 'note.added',
      subject: note!.id,
      properties: { type: note!.type },
    });
    return ok(note!);
  });
}

/** The notes on these contacts of one organization, newest first. */
export async function notesOfContacts(
  deps: CrmDeps,
  organizationId: string,
  contactIds: readonly string[],
): Promise<NoteRow[]> {
  return deps.handle.db
    .select()
    .from(notes)
    .where(and(eq(notes.organizationId, organizationId), inArray(notes.contactId, [...contactIds])))
    .orderBy(desc(notes.id));
}

export const notesOf = (deps: CrmDeps, organizationId: string, contactId: string) =>
  notesOfContacts(deps, organizationId, [contactId]);
