// CRM's segment filter grammar as other contexts reach it (`@mauntic/crm/filter`): the pure check
// a filter tree must pass, given the custom fields and segments the caller knows (the journey
// context passes its copies of CRM's), what a checked tree reads, and the calendar that gives
// dates, periods and activity windows their meaning (so an in-memory evaluator resolves them as
// the SQL compiler does). Nothing here touches a database: the entry and everything it imports
// are pure (test/filter-entry.test.ts holds it to that).
export { FIELD_TYPES, type FieldEntity, type FieldType } from './domain/field-types.ts';
export {
  addDays,
  type Clock,
  type DateExpr,
  localDay,
  parseDateValue,
  parseSpan,
  type ResolvedDate,
  resolveDate,
  type Span,
  spanStart,
  startOfDay,
} from './domain/relative-dates.ts';
export {
  COUNT_OPS,
  type CountOp,
  countHolds,
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
