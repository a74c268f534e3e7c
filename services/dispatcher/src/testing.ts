import type { TestContext } from 'node:test'
// Helpers for the dispatcher's integration tests: a real dispatcher in-process on its own topics and
// consumer group, real kafkajs producers/consumers, and Redis read through the delivery store.
import type { NotificationFrame } from '@tidings/contracts'
import { createDeliveryStore, DEFAULT_RETENTION, type DeliveryStore } from '@tidings/delivery'
import { createLogger } from '@tidings/runtime'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import {
  type Admin,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs'
import { type DispatcherConfig, loadDispatcherConfig } from './config.ts'
import { createDispatcher, type Dispatcher } from './service.ts'

/**
 * A config with unique topics and group, test-friendly timings (fast joins, short backoff) and the
 * shared infra from the environment; `env` overrides any variable.
 */
export function testConfig(env: Record<string, string> = {}): DispatcherConfig {
  const infra = infraFromEnv()
  return loadDispatcherConfig({
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    REDIS_URL: infra.redisUrl,
    KAFKA_CLIENT_ID: 'dispatcher-test',
    KAFKA_GROUP_ID: uniqueName('dispatcher'),
    TOPIC_LOAN_DECISIONS: uniqueName('loan'),
    TOPIC_NOTIFICATIONS_REQUESTED: uniqueName('requested'),
    TOPIC_DLQ: uniqueName('dlq'),
    TOPIC_PARTITIONS: '3',
    // the broker's group.min.session.timeout.ms is 6 s by default
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    KAFKA_REBALANCE_TIMEOUT_MS: '10000',
    KAFKA_MAX_WAIT_MS: '100',
    RETRY_INITIAL_MS: '50',
    RETRY_MAX_MS: '500',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: (process.env.TEST_LOG_LEVEL as string | undefined) ?? 'silent',
    ...env,
  })
}

/** Starts a dispatcher; logs are silent unless TEST_LOG_LEVEL is set (e.g. to debug a failure). */
export async function startDispatcher(config: DispatcherConfig): Promise<Dispatcher> {
  const logger = createLogger('dispatcher', config.logLevel)
  const d = createDispatcher(config, logger)
  await d.start()
  return d
}

export function testKafka(config: DispatcherConfig): Kafka {
  return new Kafka({
    clientId: 'dispatcher-test-client',
    brokers: config.kafka.brokers,
    logLevel: logLevel.NOTHING,
  })
}

export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  return producer
}

export interface Collector {
  messages: KafkaMessage[]
  stop(): Promise<void>
}

/** Reads a topic from the beginning with its own group, collecting every record. */
export async function collect(kafka: Kafka, topic: string): Promise<Collector> {
  const consumer = kafka.consumer({
    groupId: uniqueName('collector'),
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
  })
  const messages: KafkaMessage[] = []
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push(message)
    },
  })
  return { messages, stop: () => consumer.disconnect() }
}

/** Committed offsets of a group on a topic, summed over partitions (-1 = nothing committed = 0). */
export async function committedTotal(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [res] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return (res?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
}

export interface InboxView {
  epoch: string
  frames: NotificationFrame[]
}

export interface RedisReader {
  redis: Redis
  store: DeliveryStore
  inbox(userId: string): Promise<InboxView>
  close(): void
}

/** Reads inboxes through the delivery store (the gateway's view of them). */
export function redisReader(url: string): RedisReader {
  // No auto-reconnect noise when a test stops its private Redis: errors surface as failed reads.
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false })
  redis.on('error', () => undefined)
  const store = createDeliveryStore(redis, DEFAULT_RETENTION)
  return {
    redis,
    store,
    async inbox(userId) {
      const read = await store.readInbox(userId, {})
      return { epoch: read.epoch, frames: read.frames.map((f) => JSON.parse(f) as NotificationFrame) }
    },
    close: () => redis.disconnect(),
  }
}

/** Waits until the user's inbox holds `count` notifications and returns it. */
export function waitForInbox(reader: RedisReader, userId: string, count: number, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const view = await reader.inbox(userId)
      return view.frames.length >= count ? view : undefined
    },
    { timeoutMs, message: `${count} notifications in the inbox of ${userId}` },
  )
}

export function loanEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventId: uniqueName('evt'),
    occurredAt: '2026-11-24T10:00:00.000Z',
    borrowerId: 'b-1',
    loanId: 'L-77',
    decision: 'APPROVED',
    amount: { value: 50000, currency: 'BDT' },
    reasonCode: null,
    locale: 'en',
    ...overrides,
  }
}

/** The value of a header as a string (kafkajs hands headers to consumers as Buffers). */
export function header(m: KafkaMessage, name: string): string | undefined {
  const v = m.headers?.[name]
  const first = Array.isArray(v) ? v[0] : v
  return first === undefined ? undefined : first.toString()
}

/** Scrapes /metrics for the sample of `name` whose labels include `labels`. */
export async function metricValue(
  d: Dispatcher,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3])
  }
  throw new Error(`no sample ${name} ${JSON.stringify(labels)} in /metrics`)
}

/** A started dispatcher with a producer, an admin and a Redis reader, all closed when the test ends. */
export async function dispatcherWorld(t: TestContext, config: DispatcherConfig, redisUrl: string) {
  const dispatcher = await startDispatcher(config)
  t.after(() => dispatcher.close())
  const kafka = testKafka(config)
  const producer = await connectProducer(kafka)
  t.after(() => producer.disconnect())
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  const reader = redisReader(redisUrl)
  t.after(() => reader.close())
  return { dispatcher, kafka, producer, admin, reader }
}

/**
 * One kafkajs batch of these events (keyed by borrower) as the consumer hands it to eachBatch, for
 * tests that run the batch handler directly against a real Redis; `resolved` collects the offsets.
 */
export function batchOf(topic: string, events: Array<Record<string, unknown>>) {
  const messages = events.map(
    (e, i) =>
      ({
        key: Buffer.from(String(e.borrowerId)),
        value: Buffer.from(JSON.stringify(e)),
        offset: String(i),
        headers: {},
        timestamp: String(Date.now()),
        attributes: 0,
      }) as KafkaMessage,
  )
  const resolved: string[] = []
  const payload = {
    batch: { topic, partition: 0, messages },
    resolveOffset: (o: string) => resolved.push(o),
    heartbeat: async () => {},
    commitOffsetsIfNecessary: async () => {},
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload
  return { payload, resolved }
}
