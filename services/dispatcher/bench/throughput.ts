// Backlog drain through one in-process dispatcher: N loan decisions for U users are produced first,
// then a dispatcher starts and the time until every one of them is in Redis is measured.
//   KAFKA_BROKERS=127.0.0.1:19092 node bench/throughput.ts [events=100000] [users=10000] [concurrency=4]
// Redis is a private redis-server (the numbers do not depend on what else uses a shared one).
import { createLogger } from '@tidings/runtime'
import { createTopics, startRedis, waitFor } from '@tidings/test/infra'
import { createDispatcher } from '../src/service.ts'
import { connectProducer, loanEvent, metricValue, testConfig, testKafka } from '../src/testing.ts'

const [events = 100_000, users = 10_000, concurrency = 4] = process.argv.slice(2).map(Number)
const redis = await startRedis()
process.env.REDIS_URL ??= redis.url // testConfig reads the shared infra from the environment
try {
  const config = testConfig({
    REDIS_URL: redis.url,
    PARTITIONS_CONSUMED_CONCURRENTLY: String(concurrency),
    TOPIC_PARTITIONS: '6',
    // the bench's inboxes expire soon after it
    INBOX_TTL_SECONDS: '600',
    DEDUPE_WINDOW_SECONDS: '600',
    STATE_TTL_SECONDS: '600',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  })
  await createTopics(config.kafka.brokers, [config.topics.loanDecisions], 6)
  const kafka = testKafka(config)
  const producer = await connectProducer(kafka)
  const t0 = performance.now()
  for (let sent = 0; sent < events; sent += 1000) {
    const n = Math.min(1000, events - sent)
    await producer.send({
      topic: config.topics.loanDecisions,
      messages: Array.from({ length: n }, (_, i) => {
        const user = `bench-u-${(sent + i) % users}`
        return { key: user, value: JSON.stringify(loanEvent({ borrowerId: user, loanId: `L-${sent + i}` })) }
      }),
    })
  }
  await producer.disconnect()
  const produceMs = performance.now() - t0

  const cpu0 = process.cpuUsage()
  const start = performance.now()
  const dispatcher = createDispatcher(config, createLogger('dispatcher', config.logLevel))
  await dispatcher.start()
  await waitFor(
    async () =>
      (await metricValue(dispatcher, 'tidings_dispatcher_notifications_delivered_total', {
        target: 'user',
      })) >= events,
    { timeoutMs: 600_000, intervalMs: 100, message: `${events} notifications delivered` },
  )
  const drainMs = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  const batches = await metricValue(dispatcher, 'tidings_dispatcher_batch_size_count')
  const records = await metricValue(dispatcher, 'tidings_dispatcher_batch_size_sum')
  const batchSeconds = await metricValue(dispatcher, 'tidings_dispatcher_batch_duration_seconds_sum')
  await dispatcher.close()
  console.log(
    JSON.stringify(
      {
        events,
        users,
        partitions: 6,
        partitionsConsumedConcurrently: concurrency,
        produceSeconds: +(produceMs / 1000).toFixed(2),
        drainSeconds: +(drainMs / 1000).toFixed(2),
        eventsPerSecond: Math.round(events / (drainMs / 1000)),
        batches,
        meanBatchSize: Math.round(records / batches),
        meanBatchMs: +((batchSeconds / batches) * 1000).toFixed(1),
        dispatcherCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
      },
      null,
      2,
    ),
  )
} finally {
  await redis.stop()
}
