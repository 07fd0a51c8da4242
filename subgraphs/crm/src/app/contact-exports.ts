// Contact exports as downloads: the graph hands out a short-lived signed link for a segment or a
// filter, and the HTTP route behind CONTACT_EXPORT_PATH streams the CSV page by page. The link
// is the whole authority: the platform's signed token (the internal secret) over the organization,
// what to export and an expiry, so no state is kept between asking and downloading.
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
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { segments } from '../db/schema.ts';
import { validateFilter } from '../domain/segment-filter.ts';
import type { CrmDeps } from './deps.ts';
import { exportContactsCsv } from './export-contacts.ts';
import { fieldDefinitionsOf } from './segment-membership.ts';

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
    const fields = await fieldDefinitionsOf(deps.handle.db, organizationId);
    const node = validateFilter(filter, { fields, segmentExists: () => true });
    if (!node.ok)
      return fail(new ValidationError(node.error.issues.map((i) => ({ ...i, path: ['input', ...i.path] }))));
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
