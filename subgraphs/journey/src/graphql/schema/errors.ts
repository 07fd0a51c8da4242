// The expected failures: the shared ones (scalars and the Error interface come with them) and
// the journey context's own, as mutation payloads show them.
import { addCommonTypes } from '@mauntic/platform';
import { builder } from '../builder.ts';

addCommonTypes(builder);
