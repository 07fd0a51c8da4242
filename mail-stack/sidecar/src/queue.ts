// The size of a Postfix instance's queues, read from its queue folder (the pod's queue volume, or
// the instance's queue_directory) without Postfix's tools: each queued message is one file under
// the queue's hashed subfolders, as qmgr(8) and showq(8) count them.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export const QUEUES = ['maildrop', 'incoming', 'active', 'deferred', 'hold', 'corrupt'] as const;
export type QueueName = (typeof QUEUES)[number];

async function filesUnder(dir: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    // A message moved on between listing and reading, or a queue Postfix has not made yet.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let count = 0;
  for (const entry of entries) {
    if (entry.isDirectory()) count += await filesUnder(join(dir, entry.name));
    else if (entry.isFile()) count += 1;
  }
  return count;
}

/** Messages in each queue. */
export async function queueSizes(queueDir: string): Promise<Record<QueueName, number>> {
  const sizes = await Promise.all(QUEUES.map((q) => filesUnder(join(queueDir, q))));
  return Object.fromEntries(QUEUES.map((q, i) => [q, sizes[i]!])) as Record<QueueName, number>;
}
