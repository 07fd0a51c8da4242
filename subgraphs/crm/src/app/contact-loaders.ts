// What the fields of a page of contacts read for each contact (do-not-contact entries,
// companies, notes), batched: the contacts a request resolves together are read in one
// statement per organization, not one per contact. One set of loaders serves one request.
import DataLoader from 'dataloader';
import { companiesOfContacts } from './companies.ts';
import { dncOfContacts } from './contact-attributes.ts';
import type { CrmDeps } from './deps.ts';
import { notesOfContacts } from './notes.ts';
import { groupScoresOf } from './points.ts';
import { stageHistoryOf } from './stages.ts';

/** A contact, with the organization it was authorized in (its row's). */
export interface ContactKey {
  organizationId: string;
  contactId: string;
}

/** Each contact's rows, from one read of many contacts of an organization. */
function perContact<T extends { contactId: string }>(
  read: (organizationId: string, contactIds: string[]) => Promise<T[]>,
) {
  return new DataLoader<ContactKey, T[]>(
    async (keys) => {
      const byOrganization = new Map<string, Set<string>>();
      for (const { organizationId, contactId } of keys)
        byOrganization.set(organizationId, (byOrganization.get(organizationId) ?? new Set()).add(contactId));
      const found = new Map<string, T[]>();
      for (const [organizationId, contactIds] of byOrganization)
        for (const row of await read(organizationId, [...contactIds])) {
          const key = `${organizationId}:${row.contactId}`;
          found.set(key, [...(found.get(key) ?? []), row]);
        }
      return keys.map((k) => found.get(`${k.organizationId}:${k.contactId}`) ?? []);
    },
    // Batching only, no cache: a later mutation of the same request may change what was read.
    { cache: false, maxBatchSize: 1000 },
  );
}

export const createContactLoaders = (deps: CrmDeps) => ({
  doNotContact: perContact((organizationId, ids) => dncOfContacts(deps, organizationId, ids)),
  companies: perContact((organizationId, ids) => companiesOfContacts(deps.handle.db, organizationId, ids)),
  notes: perContact((organizationId, ids) => notesOfContacts(deps, organizationId, ids)),
  groupScores: perContact((organizationId, ids) => groupScoresOf(deps, organizationId, ids)),
  stageHistory: perContact((organizationId, ids) => stageHistoryOf(deps, organizationId, ids)),
});

export type ContactLoaders = ReturnType<typeof createContactLoaders>;
