// The dispatcher does not rely on the broker's auto-creation (off in most production clusters, and
// with the wrong partition count where it is on): it creates the topics it needs when they are missing.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '@tidings/runtime'
import type { Admin, ITopicConfig, Kafka } from 'kafkajs'
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
  if (config.push) wanted.push({ topic: config.push.topic, numPartitions: t.partitions, replicationFactor })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = wanted.filter((w) => !existing.has(w.topic))
    if (missing.length === 0) return []
    // Another dispatcher starting at the same moment may win the race: kafkajs then reports
    // TOPIC_ALREADY_EXISTS for every topic and returns false: the topics exist all the same, and
    // this dispatcher reports none as created.
    // Not `waitForLeaders: true`: kafkajs retries that wait only on LEADER_NOT_AVAILABLE, and a broker
    // whose metadata lags behind the creation answers UNKNOWN_TOPIC_OR_PARTITION for a moment (seen
    // on a loaded 2-core CI machine), which failed the start. waitForLeaders() polls through both.
    const created = await admin.createTopics({ topics: missing, waitForLeaders: false })
    await waitForLeaders(admin, missing)
    if (!created) return []
    const names = missing.map((m) => m.topic)
    logger.info({ topics: names }, 'created missing topics')
    return names
  } finally {
    await admin.disconnect()
  }
}

const LEADERS_TIMEOUT_MS = 30_000
const LEADERS_POLL_MS = 100

/**
 * Resolves once every partition of every topic has a leader that serves it. The metadata names a
 * leader a moment before that broker has the partition (KRaft applies the two in turn): a consumer
 * starting in between gets NOT_LEADER_OR_FOLLOWER on its first ListOffsets, logs it and rejoins its
 * group. So the wait ends on the same request answered: the topics' offsets.
 */
async function waitForLeaders(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  const names = topics.map((t) => t.topic)
  const deadline = Date.now() + LEADERS_TIMEOUT_MS
  let last: unknown
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: names })
      const ready = topics.every((want) => {
        const got = meta.find((m) => m.name === want.topic)
        return (
          got !== undefined &&
          got.partitions.length >= (want.numPartitions ?? 1) &&
          got.partitions.every((p) => p.leader >= 0)
        )
      })
      if (ready) {
        await Promise.all(names.map((topic) => admin.fetchTopicOffsets(topic)))
        return
      }
      last = undefined
    } catch (error) {
      last = error // not in the metadata yet, or not served yet: retriable
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? `: ${last.message}` : ''
      throw new Error(
        `created topics ${names.join(', ')} but they had no leader after ${LEADERS_TIMEOUT_MS} ms${why}`,
        { cause: last },
      )
    }
    await sleep(LEADERS_POLL_MS)
  }
}
