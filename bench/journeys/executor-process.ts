// One executor process of the benchmark; killed and restarted under the same EXECUTOR_OWNER.
// (A relative import: the bench package does not list the journey packages yet.)
import { runExecutorProcess } from '../../workers/journey-executor/src/executor-process.ts';

await runExecutorProcess('bench-executor');
