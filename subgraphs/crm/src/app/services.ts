// The CRM context's use cases, bound to their dependencies.
import type { RequestContext } from '@mauntic/kernel';
import { adjustPoints, createStage, dncOf, listStages, setDoNotContact, tagContact } from './contact-attributes';
import { getContact, listContacts } from './contact-queries';
import {
  batchUpsertContacts,
  createContact,
  deleteContact,
  getContacts,
  updateContact,
  upsertContact,
} from './contacts';
import type { CrmDeps } from './deps';
import { createField, listFields } from './fields';
import {
  changeStaticMembers,
  createSegment,
  deleteSegment,
  getSegment,
  listSegments,
  previewSegment,
  rebuildSegmentJob,
  rebuildSegmentNow,
  segmentMembersPage,
  updateSegment,
} from './segments';

export function createCrmServices(deps: CrmDeps) {
  const bind =
    <A extends unknown[], R>(fn: (deps: CrmDeps, ...args: A) => R) =>
    (...args: A) =>
      fn(deps, ...args);
  return {
    deps,
    createContact: bind(createContact),
    updateContact: bind(updateContact),
    upsertContact: bind(upsertContact),
    batchUpsertContacts: bind(batchUpsertContacts),
    deleteContact: bind(deleteContact),
    getContact: bind(getContact),
    getContacts: bind(getContacts),
    listContacts: bind(listContacts),
    tagContact: bind(tagContact),
    adjustPoints: bind(adjustPoints),
    setDoNotContact: bind(setDoNotContact),
    dncOf: bind(dncOf),
    createStage: bind(createStage),
    listStages: bind(listStages),
    createField: bind(createField),
    listFields: (ctx: RequestContext, entity?: 'contact' | 'company') =>
      ctx.organizationId ? listFields(deps, ctx.organizationId, entity) : Promise.resolve([]),
    createSegment: bind(createSegment),
    updateSegment: bind(updateSegment),
    deleteSegment: bind(deleteSegment),
    rebuildSegment: bind(rebuildSegmentNow),
    getSegment: bind(getSegment),
    listSegments: bind(listSegments),
    segmentMembers: bind(segmentMembersPage),
    previewSegment: bind(previewSegment),
    changeStaticMembers: bind(changeStaticMembers),
    jobs: () => [rebuildSegmentJob(deps)],
  };
}

export type CrmServices = ReturnType<typeof createCrmServices>;
