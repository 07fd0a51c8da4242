// CRM's Contact, extended with the contact's journey runs, and the contact a run is for.
import { connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import { builder, services } from '../builder.ts';
import { JourneyRun, JourneyRunStateEnum } from './journey-run.ts';

/** A CRM contact, referenced by id. */
export const ContactRef = builder.externalRef('Contact', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: (t) => ({
    journeyRuns: t.connection(
      {
        type: JourneyRun,
        description: "The contact's journey runs, newest first",
        args: { state: t.arg({ type: JourneyRunStateEnum }) },
        resolve: async (c, args, ctx) =>
          orThrow(
            await services(ctx).listRuns(
              ctx.request,
              { contactId: c.id, ...(args.state ? { state: args.state } : {}) },
              pageWindow(args),
            ),
          ),
      },
      connectionWithTotalCount('ContactJourneyRunConnection'),
    ),
  }),
});

builder.objectField(JourneyRun, 'contact', (t) => t.field({ type: ContactRef, resolve: (r) => ({ id: r.contactId }) }));
