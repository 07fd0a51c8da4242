// BatchUpsertContactsResult: what batchUpsertContacts gives back, a result or an error per item.
import { unwrap, type ValidationError } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import type { ContactRow } from '../../app/contacts.ts';
import { builder, services } from '../builder.ts';
import { Contact, ContactInputType, toContactInput } from './contact.ts';

// An item's error travels as plain data: graphql-js treats an Error returned by a resolver as
// a failure of the field, not as a value.
const BatchItemIssue = builder.objectRef<{ path: string[]; message: string }>('BatchItemIssue').implement({
  fields: (t) => ({ path: t.exposeStringList('path'), message: t.exposeString('message') }),
});

const BatchItemError = builder.objectRef<ValidationError>('BatchItemError').implement({
  fields: (t) => ({
    code: t.string({ resolve: (e) => e.code }),
    message: t.string({ resolve: (e) => e.message }),
    issues: t.field({ type: [BatchItemIssue], resolve: (e) => e.issues }),
  }),
});

const BatchItem = builder
  .objectRef<{ index: number; contact?: ContactRow; created?: boolean; error?: ValidationError }>('BatchContactResult')
  .implement({
    fields: (t) => ({
      index: t.exposeInt('index'),
      contact: t.field({ type: Contact, nullable: true, resolve: (r) => r.contact ?? null }),
      created: t.boolean({ nullable: true, resolve: (r) => r.created ?? null }),
      error: t.field({
        type: BatchItemError,
        nullable: true,
        resolve: (r) =>
          r.error ? ({ code: r.error.code, message: r.error.message, issues: r.error.issues } as never) : null,
      }),
    }),
  });

const BatchResult = builder.objectRef<{ results: { index: number }[] }>('BatchUpsertContactsResult').implement({
  fields: (t) => ({ results: t.field({ type: [BatchItem], resolve: (r) => r.results }) }),
});

const BatchInput = builder.inputType('BatchUpsertContactsInput', {
  fields: (t) => ({ contacts: t.field({ type: [ContactInputType], required: true }) }),
});

builder.mutationField('batchUpsertContacts', (t) =>
  t.field({
    description: 'Upserts up to 1,000 contacts by email; each item reports its own result or error',
    type: BatchResult,
    args: { input: t.arg({ type: BatchInput, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => ({
      results: unwrap(await services(ctx).batchUpsertContacts(ctx.request, input.contacts.map(toContactInput))),
    }),
  }),
);
