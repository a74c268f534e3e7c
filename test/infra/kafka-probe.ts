// Readiness of a fresh broker, end to end: create a topic, produce with acks=all, read it back through a
// consumer group (which also creates __consumer_offsets, so the first test does not pay for it).
import { randomBytes } from 'node:crypto'
import { Kafka, logLevel, Partitioners } from 'kafkajs'

const topic = 'tidings-infra-probe'

export async function probeKafka(brokers: string[], timeoutMs = 30_000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'tidings-infra-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 3, initialRetryTime: 100 },
  })
  const nonce = randomBytes(8).toString('hex')
  const admin = kafka.admin()
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  const consumer = kafka.consumer({ groupId: `tidings-infra-probe-${nonce}`, maxWaitTimeInMs: 100 })
  let timer: NodeJS.Timeout | undefined
  try {
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [{ value: nonce }] })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('probe message was not consumed')), timeoutMs)
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.value?.toString() === nonce) resolve()
          },
        })
        .catch(reject)
    })
    return true
  } finally {
    clearTimeout(timer)
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()])
  }
}
