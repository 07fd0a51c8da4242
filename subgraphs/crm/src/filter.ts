// CRM's segment filter grammar as other contexts reach it (`@mauntic/crm/filter`): the pure check
// a filter tree must pass, given the custom fields and segments the caller knows (the journey
// context passes its copies of CRM's), and what a checked tree reads. Nothing here touches a
// database: the entry and everything it imports are pure (test/filter-entry.test.ts holds it to that).
export { FIELD_TYPES, type FieldEntity, type FieldType } from './domain/field-types.ts';
export {
  COUNT_OPS,
  DNC_CHANNELS,
  type FilterNode,
  isTimeDependent,
  OPERATORS,
  referencedFields,
  referencedSegments,
  STANDARD_FIELDS,
  TAG_OPS,
} from './domain/segment-filter.ts';
export {
  type FilterField,
  resolveField,
  type ValidationContext as FilterContext,
  validateFilter,
} from './domain/segment-filter-validation.ts';
