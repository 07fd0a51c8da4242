// One executor process of the benchmark; killed and restarted under the same EXECUTOR_OWNER.
// (A relative import: the bench package does not list the journey packages yet.)
import { runExecutorProcess } from '@mauntic/journey-executor/executor-process';

await runExecutorProcess('bench-executor');
