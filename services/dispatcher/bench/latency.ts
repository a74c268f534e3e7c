// Produce → Redis publish latency through one in-process dispatcher at a steady, modest rate:
//   KAFKA_BROKERS=127.0.0.1:19092 REDIS_URL=redis://… node bench/latency.ts [events=500] [perSecond=200]
// Latency = time from calling producer.send() (acks=-1) to the notification arriving on the user's channel
// (sharded pub/sub, as a gateway receives it).
import { setTimeout as sleep } from 'node:timers/promises'
import { splitMessage, userChannel } from '@tidings/delivery'
import { createLogger } from '@tidings/runtime'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import { createDispatcher } from '../src/service.ts'
import { connectProducer, loanEvent, testConfig, testKafka } from '../src/testing.ts'

const [events = 500, perSecond = 200] = process.argv.slice(2).map(Number)
const config = testConfig({
  LOG_LEVEL: 'warn',
  INBOX_TTL_SECONDS: '600',
  DEDUPE_WINDOW_SECONDS: '600',
  STATE_TTL_SECONDS: '600',
})
const dispatcher = createDispatcher(config, createLogger('dispatcher', config.logLevel))
await dispatcher.start()
const producer = await connectProducer(testKafka(config))
const sub = new Redis(infraFromEnv().redisUrl)
const user = uniqueName('lat')
const sentAt = new Map<string, number>()
const latencies: number[] = []
sub.on('smessageBuffer', (_c: Buffer, message: Buffer) => {
  // `<epoch>\n<meta line><frame>`: the meta line (Kafka timestamp, trace) is delivery's business
  const { frame: raw } = splitMessage(message.subarray(message.indexOf(0x0a) + 1))
  const frame = JSON.parse(raw.toString()) as { data: { loanId: string } }
  const t = sentAt.get(frame.data.loanId)
  if (t !== undefined) latencies.push(performance.now() - t)
})
await sub.ssubscribe(userChannel(user))
for (let i = 0; i < events; i++) {
  const loanId = `L-${i}`
  const before = performance.now()
  // set before sending: the notification can be published before the produce ack comes back
  sentAt.set(loanId, before)
  await producer.send({
    topic: config.topics.loanDecisions,
    messages: [{ key: user, value: JSON.stringify(loanEvent({ borrowerId: user, loanId })) }],
  })
  await sleep(Math.max(0, 1000 / perSecond - (performance.now() - before))) // pacing of the load, not synchronisation
}
await waitFor(() => latencies.length >= events, { timeoutMs: 30_000, message: 'all notifications published' })
latencies.sort((a, b) => a - b)
const q = (p: number) =>
  +latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1)
console.log(JSON.stringify({ events, perSecond, p50ms: q(0.5), p90ms: q(0.9), p99ms: q(0.99), maxMs: q(1) }))
sub.disconnect()
await producer.disconnect()
await dispatcher.close()
