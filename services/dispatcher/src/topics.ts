// The dispatcher does not rely on the broker's auto-creation (off in most production clusters, and
// with the wrong partition count where it is on): it creates the topics it needs when they are missing.
import type { Logger } from '@tidings/runtime'
import type { ITopicConfig, Kafka } from 'kafkajs'
import type { DispatcherConfig } from './config.ts'

// A dead letter is the original record plus a few headers; the largest is a `too_large` event that
// its own topic accepted (1 MiB by default). Room for that, so parking it cannot fail for size.
const DLQ_MAX_MESSAGE_BYTES = String(2 * 1024 * 1024)

export async function ensureTopics(
  kafka: Kafka,
  config: DispatcherConfig,
  logger: Logger,
): Promise<string[]> {
  const t = config.topics
  const replicationFactor = t.replicationFactor
  const wanted: ITopicConfig[] = [
    { topic: t.loanDecisions, numPartitions: t.partitions, replicationFactor },
    { topic: t.notificationsRequested, numPartitions: t.partitions, replicationFactor },
    {
      topic: t.deadLetter,
      numPartitions: t.deadLetterPartitions,
      replicationFactor,
      configEntries: [{ name: 'max.message.bytes', value: DLQ_MAX_MESSAGE_BYTES }],
    },
  ]
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = wanted.filter((w) => !existing.has(w.topic))
    if (missing.length === 0) return []
    // Another dispatcher starting at the same moment may win the race: kafkajs then reports
    // TOPIC_ALREADY_EXISTS for every topic and returns false, which is just as good.
    await admin.createTopics({ topics: missing, waitForLeaders: true })
    const names = missing.map((m) => m.topic)
    logger.info({ topics: names }, 'created missing topics')
    return names
  } finally {
    await admin.disconnect()
  }
}
