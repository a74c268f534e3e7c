// The shared broker from the global setup, over the real wire with kafkajs.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { createTopics, infraFromEnv, startKafka, uniqueName, waitFor } from './index.ts'

const { kafkaBrokers } = infraFromEnv()
const kafka = new Kafka({
  clientId: uniqueName('infra-test'),
  brokers: kafkaBrokers,
  logLevel: logLevel.NOTHING,
})

test('createTopics creates the partitions with leaders', async (t) => {
  const topic = uniqueName('infra-create')
  await createTopics(kafkaBrokers, [topic], 3)
  const admin = kafka.admin()
  t.after(() => admin.disconnect())
  await admin.connect()
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  assert.equal(topics[0]?.partitions.length, 3)
  assert.ok(topics[0]?.partitions.every((p) => p.leader >= 0))
})

test('a producer -> consumer round trip through the broker keeps keys, values and headers', async (t) => {
  const topic = uniqueName('infra-roundtrip')
  await createTopics(kafkaBrokers, [topic], 2)
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  // A short fetch wait: disconnect() waits for the fetch in flight (default maxWaitTimeInMs 5 s).
  const consumer = kafka.consumer({ groupId: uniqueName('infra-group'), maxWaitTimeInMs: 100 })
  t.after(() => Promise.allSettled([producer.disconnect(), consumer.disconnect()]))

  const received: string[] = []
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push(`${message.key}=${message.value}@${message.headers?.trace}`)
    },
  })
  await producer.connect()
  const sent = ['alpha', 'beta', 'gamma', 'delta'].map((key, i) => ({
    key,
    value: `value-${i}`,
    headers: { trace: `trace-${i}` },
  }))
  await producer.send({ topic, acks: -1, messages: sent })

  await waitFor(() => received.length >= sent.length, { timeoutMs: 30_000, message: 'all messages consumed' })
  assert.deepEqual(received.sort(), sent.map((m) => `${m.key}=${m.value}@${m.headers.trace}`).sort())
})

test('restart() brings a private broker back on the same port with its topics and records', async (t) => {
  const kafka = await startKafka()
  t.after(() => kafka.stop())
  const client = new Kafka({ clientId: 'restart-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING })
  const topic = uniqueName('restart')
  await createTopics(kafka.brokers, [topic], 1)
  const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  await producer.send({ topic, messages: [{ key: 'k', value: 'before' }] })
  await producer.disconnect()

  await kafka.restart()

  const admin = client.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  const offsets = await waitFor(() => admin.fetchTopicOffsets(topic), { timeoutMs: 30_000 })
  assert.equal(offsets[0]?.high, '1')
})
