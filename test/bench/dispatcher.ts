// Dispatcher throughput: services/dispatcher/bench/throughput.ts (same backlog-drain procedure, same
// helpers, imported from the dispatcher's testing module) plus what it cannot show by itself: what the
// drain made Redis do, from INFO commandstats/stats of a private redis-server before and after.
//
//   N loan decisions for U users are produced to a fresh 6-partition topic first; then an in-process
//   dispatcher starts and the time until every notification is in Redis is measured.
//   - EVALSHA (+ EVAL) calls per event: one script per notification, nothing else per message.
//   - total_reads_processed per event: read events on Redis's client sockets, i.e. batches of pipelined
//     commands arriving — the network round trips. Far below 1 per event = no per-message round trip.
//   - Commands run by the scripts themselves (HINCRBY, RPUSH, SPUBLISH…) also show in commandstats; they
//     are in-server calls, not network commands, and are listed separately.
import { createTopics, startRedis, waitFor } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import {
  connectProducer,
  loanEvent,
  metricValue,
  startDispatcher,
  testConfig,
  testKafka,
} from '../../services/dispatcher/src/testing.ts'
import { diffCounters, redisCounters } from './lib/redis-info.ts'
import { round } from './lib/stats.ts'

export interface DispatcherOptions {
  events: number
  users: number
  concurrency: number
}

export interface DispatcherResult extends DispatcherOptions {
  partitions: number
  produceSeconds: number
  /** From start() to every notification in Redis: includes joining the group. */
  drainSeconds: number
  eventsPerSecond: number
  /** start() (joined, partitions assigned) → every notification in Redis: the drain itself. */
  joinSeconds: number
  eventsPerSecondAfterJoin: number
  /** Dispatcher (this process) and redis-server CPU time per event over the drain. */
  cpuMicrosPerEvent: { dispatcher: number; redis: number }
  batches: number
  meanBatchSize: number
  dispatcherCpuSeconds: number
  /** Network-level: commands clients sent. */
  perEvent: {
    evalsha: number
    eval: number
    clientCommands: number
    roundTrips: number
    netInputBytes: number
  }
  /** Everything commandstats counted during the drain (script-internal calls included). */
  redisCalls: Record<string, number>
}

// Commands a client can only send over the network (the rest of commandstats during the drain are the
// scripts' own redis.call()s, plus ioredis's connection set-up: CLIENT SETNAME, INFO, SELECT…).
const NETWORK_ONLY = new Set(['evalsha', 'eval', 'client|setname', 'info', 'select', 'ping', 'script|load'])

export async function runDispatcher(o: DispatcherOptions): Promise<DispatcherResult> {
  const redisServer = await startRedis()
  const stats = new Redis(redisServer.url)
  try {
    const partitions = 6
    const config = testConfig({
      REDIS_URL: redisServer.url,
      PARTITIONS_CONSUMED_CONCURRENTLY: String(o.concurrency),
      TOPIC_PARTITIONS: String(partitions),
      INBOX_TTL_SECONDS: '600',
      DEDUPE_WINDOW_SECONDS: '600',
      STATE_TTL_SECONDS: '600',
      LOG_LEVEL: 'warn',
    })
    await createTopics(config.kafka.brokers, [config.topics.loanDecisions], partitions)
    const producer = await connectProducer(testKafka(config))
    const t0 = performance.now()
    for (let sent = 0; sent < o.events; sent += 1000) {
      const n = Math.min(1000, o.events - sent)
      await producer.send({
        topic: config.topics.loanDecisions,
        messages: Array.from({ length: n }, (_, i) => {
          const user = `bench-u-${(sent + i) % o.users}`
          return {
            key: user,
            value: JSON.stringify(loanEvent({ borrowerId: user, loanId: `L-${sent + i}` })),
          }
        }),
      })
    }
    await producer.disconnect()
    const produceMs = performance.now() - t0

    const before = await redisCounters(stats)
    const cpu0 = process.cpuUsage()
    const start = performance.now()
    // startDispatcher = createDispatcher + start(), with the config's log level
    const dispatcher = await startDispatcher(config)
    const joinedAt = performance.now()
    try {
      await waitFor(
        async () =>
          (await metricValue(dispatcher, 'tidings_dispatcher_notifications_delivered_total', {
            target: 'user',
          })) >= o.events,
        { timeoutMs: 600_000, intervalMs: 100, message: `${o.events} notifications delivered` },
      )
      const end = performance.now()
      const drainMs = end - start
      const cpu = process.cpuUsage(cpu0)
      const after = await redisCounters(stats)
      const d = diffCounters(before, after)
      // our own INFO pair (2 commands, 1–2 reads) is in `after`
      const ownCommands = 2
      const clientCommands = Object.entries(d.calls)
        .filter(([k]) => NETWORK_ONLY.has(k))
        .reduce((s, [, v]) => s + v, 0)
      const batches = await metricValue(dispatcher, 'tidings_dispatcher_batch_size_count')
      const records = await metricValue(dispatcher, 'tidings_dispatcher_batch_size_sum')
      return {
        ...o,
        partitions,
        produceSeconds: round(produceMs / 1000, 2),
        drainSeconds: round(drainMs / 1000, 2),
        eventsPerSecond: Math.round(o.events / (drainMs / 1000)),
        joinSeconds: round((joinedAt - start) / 1000, 2),
        eventsPerSecondAfterJoin: Math.round(o.events / ((end - joinedAt) / 1000)),
        cpuMicrosPerEvent: {
          dispatcher: round((cpu.user + cpu.system) / o.events, 1),
          redis: round((d.cpuSeconds * 1e6) / o.events, 1),
        },
        batches,
        meanBatchSize: Math.round(records / batches),
        dispatcherCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
        perEvent: {
          evalsha: round((d.calls.evalsha ?? 0) / o.events, 4),
          eval: round((d.calls.eval ?? 0) / o.events, 4),
          clientCommands: round((clientCommands - ownCommands) / o.events, 4),
          roundTrips: round(d.readsProcessed / o.events, 4),
          netInputBytes: Math.round(d.netInputBytes / o.events),
        },
        redisCalls: d.calls,
      }
    } finally {
      await dispatcher.close()
    }
  } finally {
    stats.disconnect()
    await redisServer.stop()
  }
}
