// The CRM context's use cases, bound to their dependencies.
import { timeline, trackContactEvent } from './activities.ts';
import { createCategory, deleteCategory, listCategories, setSegmentCategory } from './categories.ts';
import {
  companiesOf,
  createCompany,
  deleteCompany,
  getCompany,
  linkCompany,
  listCompanies,
  updateCompany,
} from './companies.ts';
import { crmSubscriptions } from './consumers.ts';
import { adjustPoints, createStage, dncOf, listStages, setDoNotContact, tagContact } from './contact-attributes.ts';
import { createContactLoaders } from './contact-loaders.ts';
import { getContact, listContacts } from './contact-queries.ts';
import { batchUpsertContacts, createContact, deleteContact, updateContact, upsertContact } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { createContactExport, exportContacts, streamContactExport } from './export-contacts.ts';
import { createField, deleteField, listFields } from './fields.ts';
import { eraseContact, exportContactData } from './gdpr.ts';
import {
  contactImportJob,
  getContactImport,
  importContacts,
  importErrorReportCsv,
  importErrorsPage,
  startContactImport,
} from './import-contacts.ts';
import { mergeContacts } from './merge.ts';
import { addNote, notesOf } from './notes.ts';
import { createPointRule, deletePointRule, getPointRule, listPointRules, updatePointRule } from './point-rules.ts';
import { createPointTrigger, deletePointTrigger, listPointTriggers } from './point-triggers.ts';
import { createPointGroup, deletePointGroup, listPointGroups } from './points.ts';
import {
  changeStaticMembers,
  createSegment,
  deleteSegment,
  getSegment,
  listSegments,
  previewSegment,
  rebuildSegmentJob,
  rebuildSegmentNow,
  scheduleTimeDependentRefreshes,
  segmentMembersPage,
  updateSegment,
} from './segments.ts';

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
    listContacts: bind(listContacts),
    tagContact: bind(tagContact),
    adjustPoints: bind(adjustPoints),
    setDoNotContact: bind(setDoNotContact),
    dncOf: bind(dncOf),
    createStage: bind(createStage),
    listStages: bind(listStages),
    createField: bind(createField),
    deleteField: bind(deleteField),
    listFields: bind(listFields),
    createCompany: bind(createCompany),
    updateCompany: bind(updateCompany),
    deleteCompany: bind(deleteCompany),
    getCompany: bind(getCompany),
    listCompanies: bind(listCompanies),
    linkCompany: bind(linkCompany),
    companiesOf: bind(companiesOf),
    addNote: bind(addNote),
    notesOf: bind(notesOf),
    trackContactEvent: bind(trackContactEvent),
    timeline: bind(timeline),
    mergeContacts: bind(mergeContacts),
    exportContactData: bind(exportContactData),
    eraseContact: bind(eraseContact),
    createSegment: bind(createSegment),
    updateSegment: bind(updateSegment),
    deleteSegment: bind(deleteSegment),
    rebuildSegment: bind(rebuildSegmentNow),
    getSegment: bind(getSegment),
    listSegments: bind(listSegments),
    segmentMembers: bind(segmentMembersPage),
    previewSegment: bind(previewSegment),
    changeStaticMembers: bind(changeStaticMembers),
    startContactImport: bind(startContactImport),
    importContacts: bind(importContacts),
    getContactImport: bind(getContactImport),
    importErrors: bind(importErrorsPage),
    importErrorReportCsv: bind(importErrorReportCsv),
    exportContacts: bind(exportContacts),
    createContactExport: bind(createContactExport),
    streamContactExport: bind(streamContactExport),
    createPointRule: bind(createPointRule),
    updatePointRule: bind(updatePointRule),
    deletePointRule: bind(deletePointRule),
    getPointRule: bind(getPointRule),
    listPointRules: bind(listPointRules),
    createPointGroup: bind(createPointGroup),
    deletePointGroup: bind(deletePointGroup),
    listPointGroups: bind(listPointGroups),
    createPointTrigger: bind(createPointTrigger),
    deletePointTrigger: bind(deletePointTrigger),
    listPointTriggers: bind(listPointTriggers),
    createCategory: bind(createCategory),
    deleteCategory: bind(deleteCategory),
    listCategories: bind(listCategories),
    setSegmentCategory: bind(setSegmentCategory),
    /** Batched reads for contact fields; one set per request. */
    contactLoaders: () => createContactLoaders(deps),
    scheduleTimeDependentRefreshes: () => scheduleTimeDependentRefreshes(deps),
    subscriptions: () => crmSubscriptions(deps),
    jobs: () => [rebuildSegmentJob(deps), contactImportJob(deps)],
  };
}

export type CrmServices = ReturnType<typeof createCrmServices>;
