import { type AccessError, authorize, type Caller, type RequestContext, type Result } from '@mauntic/kernel';

/** Who is calling (`me`): any caller acting for an organization, a signed-in user or an API key. */
export const viewer = (ctx: RequestContext): Result<Caller, AccessError> => authorize(ctx, 'member');
