// The backend side of the e2e tests: a real kafkajs producer writing events the way a loan service
// would (key = user id), and real consumers reading the dead-letter topic and the group's offsets.
import { randomUUID } from 'node:crypto'
import type { LoanDecisionEvent } from '@tidings/contracts'
import { type IHeaders, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { uniqueName, waitFor } from '../infra/index.ts'

export function kafkaClient(brokers: string[], clientId = 'tidings-e2e'): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING })
}

/** A connected producer with kafkajs' default (murmur2, Java-compatible) partitioner. */
export async function connectProducer(brokers: string[]): Promise<Producer> {
  const producer = kafkaClient(brokers, 'tidings-e2e-producer').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  })
  await producer.connect()
  return producer
}

let loanCounter = 0

/** A valid `loan.decisions` event for the borrower (a fresh event id and loan id unless overridden). */
export function loanDecision(
  borrowerId: string,
  overrides: Partial<LoanDecisionEvent> = {},
): LoanDecisionEvent {
  loanCounter += 1
  return {
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    borrowerId,
    loanId: `L-${process.pid}-${loanCounter}`,
    decision: 'APPROVED',
    amount: { value: 50_000, currency: 'BDT' },
    reasonCode: null,
    locale: 'en',
    ...overrides,
  }
}

export interface Sent {
  partition: number
  offset: string
}

/** Sends one record (value: an object → JSON, a string/Buffer → as is) and returns where it landed. */
export async function produce(
  producer: Producer,
  topic: string,
  key: string,
  value: unknown,
  headers?: IHeaders,
): Promise<Sent> {
  const raw = typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value)
  const [meta] = await producer.send({
    topic,
    acks: -1,
    messages: [{ key, value: raw, ...(headers ? { headers } : {}) }],
  })
  return { partition: meta!.partition, offset: meta!.baseOffset! }
}

/** Sends loan decisions in one request (kafkajs groups them per partition), keyed by borrower. */
export async function produceDecisions(
  producer: Producer,
  topic: string,
  events: LoanDecisionEvent[],
): Promise<void> {
  if (events.length === 0) return
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: e.borrowerId, value: JSON.stringify(e) })),
  })
}

export interface ConsumedRecord {
  partition: number
  offset: string
  key: string | null
  value: Buffer | null
  /** Header values as strings. */
  headers: Record<string, string>
}

/** Reads `count` records of a topic from the beginning with a throwaway consumer group. */
export async function readTopic(
  brokers: string[],
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ConsumedRecord[]> {
  const collector = await collectTopic(brokers, topic, (r) => r)
  try {
    await waitFor(() => collector.records.length >= count, {
      timeoutMs,
      message: `${count} records on ${topic}`,
    })
    return collector.records
  } finally {
    await collector.stop()
  }
}

/** How many records of the topics the group has not committed yet (all partitions). */
export async function groupLag(brokers: string[], groupId: string, topics: string[]): Promise<number> {
  const admin = kafkaClient(brokers, 'tidings-e2e-admin').admin()
  await admin.connect()
  try {
    let lag = 0
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic)
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
      for (const end of ends) {
        const c = committed?.partitions.find((p) => p.partition === end.partition)
        const at = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(end.low)
        lag += Number(end.high) - at
      }
    }
    return lag
  } finally {
    await admin.disconnect()
  }
}

export interface TopicCollector<T> {
  records: T[]
  stop(): Promise<void>
}

/** Reads a topic from the beginning, for as long as the test runs, parsing each value with `parse`. */
export async function collectTopic<T>(
  brokers: string[],
  topic: string,
  parse: (record: ConsumedRecord) => T,
): Promise<TopicCollector<T>> {
  const consumer = kafkaClient(brokers, 'tidings-e2e-collector').consumer({
    groupId: uniqueName('e2e-collector'),
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
  })
  const records: T[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(message.headers ?? {})) {
        if (v !== undefined && v !== null) headers[k] = Array.isArray(v) ? String(v[0]) : String(v)
      }
      records.push(
        parse({
          partition,
          offset: message.offset,
          key: message.key ? message.key.toString('utf8') : null,
          value: message.value,
          headers,
        }),
      )
    },
  })
  return { records, stop: () => consumer.disconnect() }
}
