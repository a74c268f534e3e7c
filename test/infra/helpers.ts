// Small helpers for tests that talk to the real servers. Tests synchronise by polling a condition
// (waitFor), never by sleeping for a guessed duration.
import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { Kafka, logLevel } from 'kafkajs'

export interface WaitForOptions {
  /** Default 10 s. */
  timeoutMs?: number
  /** Default 50 ms. */
  intervalMs?: number
  /** Names what was awaited in the timeout error. */
  message?: string
}

/**
 * Calls fn until it returns a truthy value and returns that value. A throw counts as "not yet" (the last
 * error is reported on timeout), so fn may use assertions. Throws after timeoutMs.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 50, message = 'condition not met' } = opts
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await fn()
      if (value) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${message}${last}`, { cause: lastError })
    }
    await delay(intervalMs)
  }
}

let counter = 0

/** Unique per test and per process, safe as a Kafka topic, consumer group or Redis key prefix. */
export function uniqueName(prefix: string): string {
  counter += 1
  return `${prefix}-${process.pid}-${counter}-${randomBytes(4).toString('hex')}`
}

/**
 * Creates the topics (broker default replication factor) and resolves once the metadata shows a leader
 * for every partition, so producers and consumers can use them immediately.
 */
export async function createTopics(brokers: string[], topics: string[], partitions = 1): Promise<void> {
  const admin = new Kafka({ clientId: 'tidings-test-admin', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    // kafkajs's own waitForLeaders throws a retriable UNKNOWN_TOPIC_OR_PARTITION when metadata
    // lags on a loaded broker; the loop below polls until every partition has a leader instead.
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: partitions })),
      waitForLeaders: false,
    })
    await waitFor(
      async () => {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics })
        return meta.every(
          (t) => t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0),
        )
      },
      { timeoutMs: 30_000, message: `leaders for topics ${topics.join(', ')}` },
    )
  } finally {
    await admin.disconnect()
  }
}
