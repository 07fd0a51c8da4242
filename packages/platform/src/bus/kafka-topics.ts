// Creating the topics a process needs, for every Kafka client of the workspace (the bus, the
// gateway's subscriptions): a process that starts before any other has published finds none.
import type { Admin } from 'kafkajs';

// How long a new topic may take to get a leader for every partition, and how often to look.
const TOPIC_LEADERS_TIMEOUT_MS = 30_000;
const TOPIC_LEADERS_POLL_MS = 100;

/** Creates those of `topics` that do not exist, with `partitions` each, and waits for their leaders. */
export async function createMissingTopics(admin: Admin, topics: string[], partitions: number): Promise<void> {
  // Listing first spares the broker (and the logs) a CreateTopics error for every topic
  // that exists; createTopics still tolerates one created in between.
  const existing = new Set(await admin.listTopics());
  const absent = topics.filter((topic) => !existing.has(topic));
  if (absent.length === 0) return;
  // kafkajs' own waitForLeaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION, which a
  // KRaft broker answers while a just-created topic's metadata is still spreading (seen in
  // CI on a loaded machine): the wait below treats every retriable answer as "not yet".
  await admin.createTopics({
    waitForLeaders: false,
    topics: absent.map((topic) => ({ topic, numPartitions: partitions })),
  });
  await waitForLeaders(admin, absent);
}

async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + TOPIC_LEADERS_TIMEOUT_MS;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      const led = metadata.every(
        (topic) => topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0),
      );
      if (led) return;
      if (Date.now() > deadline)
        throw new Error(`topics ${topics.join(', ')} have no leader after ${TOPIC_LEADERS_TIMEOUT_MS} ms`);
    } catch (error) {
      if (!isRetriable(error) || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, TOPIC_LEADERS_POLL_MS));
  }
}

const isRetriable = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
