// Contact exports as downloads: the graph hands out a short-lived signed link for a segment or a
// filter, and the HTTP route behind CONTACT_EXPORT_PATH streams the CSV page by page. The link
// is the whole authority: an HMAC (the internal secret) over the organization, what to export
// and an expiry, so no state is kept between asking and downloading.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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
// Distinct from what the internal context MACs, so neither token can pass for the other.
const PURPOSE = 'crm.contact-export.v1';
/** Without a configured key (tests, benchmarks) links work within this process only. */
const PROCESS_KEY = randomBytes(32);

const claimsSchema = z.object({
  org: z.uuid(),
  exp: z.number(),
  seg: z.uuid().optional(),
  f: z.unknown().optional(),
});
type Claims = z.infer<typeof claimsSchema>;

const keyOf = (deps: CrmDeps) => deps.signingKey ?? PROCESS_KEY;
const mac = (deps: CrmDeps, payload: string) =>
  createHmac('sha256', keyOf(deps)).update(`${PURPOSE}.${payload}`).digest();

function sign(deps: CrmDeps, claims: Claims): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${mac(deps, payload).toString('base64url')}`;
}

function verify(deps: CrmDeps, token: string, now: Date): Claims | null {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) return null;
  const expected = mac(deps, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const claims = claimsSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    return claims.exp > now.getTime() ? claims : null;
  } catch {
    return null;
  }
}

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
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const input = exportRequestInput.safeParse(raw);
  if (!input.success)
    return fail(
      new ValidationError(
        input.error.issues.map((i) => ({ path: ['input', ...i.path.map(String)], message: i.message })),
      ),
    );
  const { segmentId, filter } = input.data;
  if (segmentId && filter != null)
    return fail(new ValidationError([{ path: ['input', 'filter'], message: 'give segmentId or filter, not both' }]));
  const claims: Claims = { org: organizationId, exp: deps.now().getTime() + EXPORT_LINK_TTL_MS };
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
  const token = sign(deps, claims);
  return ok({
    token,
    url: `${CONTACT_EXPORT_PATH}?token=${encodeURIComponent(token)}`,
    expiresAt: new Date(claims.exp),
  });
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
  const claims = verify(deps, token, now);
  if (!claims) return fail(new UnauthenticatedError('The export link is invalid or has expired'));
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
