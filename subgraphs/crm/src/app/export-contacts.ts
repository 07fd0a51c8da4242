// Exporting contacts as CSV: the rows matching a filter (or a segment's members), read in keyset
// pages and written with csv-stringify page by page, so no more than a page is ever held. The
// graph returns a small export whole, or hands out a short-lived signed link whose download the
// HTTP route behind CONTACT_EXPORT_PATH streams. The link is the whole authority: the platform's
// signed token (the internal secret) over the organization, what to export and an expiry, so no
// state is kept between asking and downloading.
import { randomBytes } from 'node:crypto';
import {
  authorize,
  fail,
  NotFoundError,
  newId,
  type OrganizationId,
  ok,
  type RequestContext,
  type Result,
  UnauthenticatedError,
  ValidationError,
} from '@mauntic/kernel';
import { signedTokens } from '@mauntic/platform';
import { and, asc, eq, gt, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { contacts, segments } from '../db/schema.ts';
import { compileFilter } from '../db/segment-sql.ts';
import { csvLines } from './csv-text.ts';
import type { CrmDeps } from './deps.ts';
import { fieldDefinitionsOf, parseCallerFilter } from './segment-membership.ts';

const PAGE = 2000;
const STANDARD_COLUMNS = [
  'id',
  'email',
  'firstName',
  'lastName',
  'phone',
  'timezone',
  'locale',
  'points',
  'tags',
  'createdAt',
] as const;

const cell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join('|');
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
};

/**
 * The contacts matching `filter` (all of them without one) as CSV text, in pages: a header
 * with the standard columns and one column per custom field (named by its key), then a line
 * per contact. Tags and multiselect values are joined with `|`.
 */
export async function exportContactsCsv(deps: CrmDeps, ctx: RequestContext, filter?: unknown) {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const fields = await fieldDefinitionsOf(deps.handle.db, organizationId);
  const scope: SQL[] = [eq(contacts.organizationId, organizationId)];
  if (filter !== undefined && filter !== null) {
    const node = await parseCallerFilter(deps.handle.db, organizationId, filter, ['filter'], fields);
    if (!node.ok) return node;
    scope.push(compileFilter(node.value, { organizationId, now: deps.now(), timeZone: 'UTC', mode: 'rebuild' }));
  }
  const keys = fields
    .filter((f) => f.entity === 'contact')
    .map((f) => f.key)
    .sort();
  async function* lines(): AsyncGenerator<string> {
    yield csvLines([[...STANDARD_COLUMNS, ...keys]]);
    for (let after: string | undefined; ; ) {
      const page = await deps.handle.db
        .select()
        .from(contacts)
        .where(and(...scope, ...(after ? [gt(contacts.id, after)] : [])))
        .orderBy(asc(contacts.id))
        .limit(PAGE);
      if (page.length === 0) return;
      yield csvLines(
        page.map((c) => [...STANDARD_COLUMNS.map((k) => cell(c[k])), ...keys.map((k) => cell(c.fields[k]))]),
      );
      after = page.at(-1)!.id;
    }
  }
  return ok(lines());
}

/** The whole export as one string (what the graph returns). */
export async function exportContacts(deps: CrmDeps, ctx: RequestContext, filter?: unknown) {
  const result = await exportContactsCsv(deps, ctx, filter);
  if (!result.ok) return result;
  let csv = '';
  for await (const part of result.value) csv += part;
  return ok(csv);
}

/** Where the download is served: on the CRM subgraph and, in embedded mode, on the gateway's server. */
export const CONTACT_EXPORT_PATH = '/crm/exports/contacts.csv';
export const EXPORT_LINK_TTL_MS = 10 * 60_000;
/** A filter rides in the link; a bigger one belongs in a segment. */
const MAX_FILTER_BYTES = 4096;
/** Without a configured key (tests, benchmarks) links work within this process only. */
const PROCESS_KEY = randomBytes(32);

const claimsSchema = z.object({
  org: z.uuid(),
  seg: z.uuid().optional(),
  f: z.unknown().optional(),
});
type Claims = z.infer<typeof claimsSchema>;

/** The link format; its purpose keeps it from passing for any other token signed with the same key. */
const exportLinks = (deps: CrmDeps) =>
  signedTokens({ purpose: 'crm.contact-export.v1', keys: deps.signingKey ?? PROCESS_KEY, schema: claimsSchema });

export interface ContactExportLink {
  token: string;
  /** CONTACT_EXPORT_PATH with the token, relative to the server that serves the graph. */
  url: string;
  expiresAt: Date;
}

export const exportRequestInput = z.object({ segmentId: z.uuid().optional(), filter: z.unknown().optional() });

/** A link to download the contacts of a segment, or matching a filter (everyone without either). */
export async function createContactExport(
  deps: CrmDeps,
  ctx: RequestContext,
  raw: z.input<typeof exportRequestInput>,
): Promise<Result<ContactExportLink>> {
  const access = authorize(ctx, 'crm:read', exportRequestInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { segmentId, filter } = input;
  if (segmentId && filter != null)
    return fail(new ValidationError([{ path: ['input', 'filter'], message: 'give segmentId or filter, not both' }]));
  const claims: Claims = { org: organizationId };
  if (segmentId) {
    const [segment] = await deps.handle.db
      .select({ id: segments.id })
      .from(segments)
      .where(and(eq(segments.id, segmentId), eq(segments.organizationId, organizationId)));
    if (!segment) return fail(new NotFoundError('Segment', segmentId));
    claims.seg = segment.id;
  } else if (filter != null) {
    const node = await parseCallerFilter(deps.handle.db, organizationId, filter, ['input']);
    if (!node.ok) return node;
    if (JSON.stringify(filter).length > MAX_FILTER_BYTES)
      return fail(
        new ValidationError([
          {
            path: ['input', 'filter'],
            message: `is over ${MAX_FILTER_BYTES} bytes: save it as a segment and export that`,
          },
        ]),
      );
    claims.f = filter;
  }
  // The token keeps whole seconds: the link stops working within a second before expiresAt.
  const expiresAt = new Date(deps.now().getTime() + EXPORT_LINK_TTL_MS);
  const token = exportLinks(deps).sign(claims, { expiresAt });
  return ok({ token, url: `${CONTACT_EXPORT_PATH}?token=${encodeURIComponent(token)}`, expiresAt });
}

export interface ContactExportStream {
  filename: string;
  /** CSV text in pieces of up to a page of contacts; nothing is read before it is pulled. */
  lines: AsyncGenerator<string>;
}

/** Opens the export a link names, for its organization only; a bad or expired link is unauthenticated. */
export async function streamContactExport(
  deps: CrmDeps,
  token: string,
): Promise<Result<ContactExportStream, UnauthenticatedError | NotFoundError | ValidationError>> {
  const now = deps.now();
  const verified = exportLinks(deps).verify(token, now);
  if (!verified.ok) return fail(new UnauthenticatedError('The export link is invalid or has expired'));
  const claims = verified.value;
  const ctx: RequestContext = {
    correlationId: newId(),
    actor: { type: 'system', id: 'crm-contact-export' },
    organizationId: claims.org as OrganizationId,
    scopes: ['crm:read'],
  };
  let filter: unknown = claims.f;
  if (claims.seg) {
    const [segment] = await deps.handle.db
      .select({ id: segments.id })
      .from(segments)
      .where(and(eq(segments.id, claims.seg), eq(segments.organizationId, claims.org)));
    if (!segment) return fail(new NotFoundError('Segment', claims.seg));
    filter = { segment: { id: segment.id, member: true } };
  }
  const csv = await exportContactsCsv(deps, ctx, filter);
  if (!csv.ok) return csv as { ok: false; error: ValidationError };
  return ok({ filename: `contacts-${now.toISOString().slice(0, 10)}.csv`, lines: csv.value });
}
