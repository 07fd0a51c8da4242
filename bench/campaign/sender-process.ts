// One campaign sender process of the benchmark's --kill run; killed and restarted.
import { runSenderProcess } from '@mauntic/campaign-sender/sender-process';

await runSenderProcess('bench-sender');
