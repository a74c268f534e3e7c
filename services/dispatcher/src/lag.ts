// Consumer lag per partition, measured from the broker at each scrape: the high watermark of every
// input partition minus the consumer group's committed offset. Asked of Kafka, not of the consumer,
// so it keeps growing when the consumer is stuck or gone — which is when it matters.
import { type Logger, withTimeout } from '@tidings/runtime'
import type { Admin, Kafka } from 'kafkajs'
import { type DispatcherMetrics, kafkaErrorKind } from './metrics.ts'

// A scrape must answer even when Kafka does not: the previous values stay until the next success.
const QUERY_TIMEOUT_MS = 3000

export interface LagCollector {
  /** Queries Kafka and sets `tidings_dispatcher_consumer_lag`; never rejects. */
  refresh(): Promise<void>
  close(): Promise<void>
}

export function createLagCollector(
  kafka: Kafka,
  groupId: string,
  topics: string[],
  metrics: DispatcherMetrics,
  logger: Logger,
): LagCollector {
  let admin: Admin | undefined
  let connecting: Promise<Admin> | undefined
  let closed = false

  const connected = (): Promise<Admin> => {
    connecting ??= (async () => {
      const a = kafka.admin()
      await a.connect()
      admin = a
      return a
    })().catch((err: unknown) => {
      connecting = undefined
      throw err
    })
    return connecting
  }

  async function query(): Promise<void> {
    const a = await connected()
    const [committed, ...highs] = await Promise.all([
      a.fetchOffsets({ groupId, topics }),
      ...topics.map((topic) => a.fetchTopicOffsets(topic)),
    ])
    topics.forEach((topic, i) => {
      const groupOffsets = new Map(
        (committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [
          p.partition,
          Number(p.offset),
        ]),
      )
      for (const p of highs[i] ?? []) {
        const high = Number(p.high)
        const offset = groupOffsets.get(p.partition) ?? -1
        // no commit yet: everything still in the partition is waiting
        const lag = offset < 0 ? high - Number(p.low) : high - offset
        metrics.consumerLag.set({ topic, partition: String(p.partition) }, Math.max(0, lag))
      }
    })
  }

  return {
    async refresh() {
      if (closed) return
      try {
        await withTimeout(query(), QUERY_TIMEOUT_MS, () => {
          throw new Error('consumer lag query timed out')
        })
      } catch (err) {
        metrics.kafkaErrors.inc({ kind: kafkaErrorKind(err) })
        logger.debug({ err }, 'consumer lag query failed')
      }
    },
    async close() {
      closed = true
      await admin?.disconnect().catch(() => undefined)
    },
  }
}
