// The expected failures: the shared ones (scalars and the Error interface come with them). The
// integrations context has none of its own yet.
import { addCommonTypes } from '@mauntic/platform';
import { builder } from '../builder.ts';

addCommonTypes(builder);
