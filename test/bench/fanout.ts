// Fan-out and latency across two real gateway processes.
//
//   gateway A holds the `targets` users (one socket each); gateway B holds `bystanders` other users.
//   The bench publishes notifications to the targets only, at a fixed rate, through the real delivery
//   store (createDeliveryStore: the dispatcher's Lua script — inbox append, seq, SPUBLISH), with
//   `data.t` = process.hrtime.bigint() taken just before the script call. The load generator computes
//   publish→receive latency when the frame arrives (same machine: one monotonic clock).
//
// Phases, each `seconds` long:
//   idle      nothing published: CPU time of A and B (/proc/<pid>/stat) = the floor.
//   publish   `rate`/s to the targets: A's CPU per notification; B's CPU must stay at its idle floor,
//             its tidings_notifications_live_total at 0 (Redis sends it nothing: per-user channels).
//   publish+  the same after `extra` more idle sockets joined A: the per-notification cost on A must
//             not grow with the number of sockets it holds (O(1) per notification, no scan).
import { setTimeout as delay } from 'node:timers/promises'
import { createDeliveryStore, createRedisConnection, DEFAULT_RETENTION, userChannel } from '@tidings/delivery'
import type { Redis } from 'ioredis'
import { type Fleet, openFleet } from './lib/loadgen-client.ts'
import { metricValue } from './lib/metrics.ts'
import { cpuMs, fileLimitFor } from './lib/proc.ts'
import { BENCH_JWT_SECRET, type ServerUnderTest, startServer } from './lib/servers.ts'
import { type Percentiles, percentiles, round } from './lib/stats.ts'

export interface FanoutOptions {
  targets: number
  bystanders: number
  extra: number
  /** Notifications per second. */
  rate: number
  seconds: number
  redisUrl: string
  logDir: string
}

export interface PhaseResult {
  phase: string
  socketsOnA: number
  published: number
  receivedOnA: number
  receivedOnB: number
  outOfOrder: number
  latencyMs: Percentiles
  cpuMs: { a: number; b: number }
  /** A's CPU per notification above its idle floor, µs. */
  aMicrosPerNotification: number
  wallSeconds: number
}

export interface FanoutResult {
  targets: number
  bystanders: number
  extra: number
  rate: number
  seconds: number
  idleCpuMs: { a: number; b: number }
  phases: PhaseResult[]
  metrics: {
    a: { connections: number; channels: number; live: number }
    b: { connections: number; channels: number; live: number }
  }
  /** PUBSUB SHARDNUMSUB of 100 target channels: subscribers per channel (1 = only A's connection). */
  subscribersPerTargetChannel: number[]
  publishErrors: number
}

async function gatewayMetrics(s: ServerUnderTest) {
  const text = (await s.metrics())!
  return {
    connections: metricValue(text, 'tidings_ws_connections') ?? Number.NaN,
    channels: metricValue(text, 'tidings_redis_channels') ?? Number.NaN,
    live: metricValue(text, 'tidings_notifications_live_total') ?? Number.NaN,
  }
}

export async function runFanout(o: FanoutOptions): Promise<FanoutResult> {
  const run = `${process.pid}`
  const nofile = fileLimitFor(o.targets + o.extra + o.bystanders)
  const common = { redisUrl: o.redisUrl, logDir: o.logDir, nofile }
  const a = await startServer('gateway', { ...common, name: 'fanout-gateway-a' })
  const fleets: Fleet[] = []
  let b: ServerUnderTest | undefined
  const redis = createRedisConnection({ url: o.redisUrl }, { name: 'bench-publisher' }) as Redis
  try {
    b = await startServer('gateway', { ...common, name: 'fanout-gateway-b' })
    const fleetBase = { secret: BENCH_JWT_SECRET, logDir: o.logDir, track: true }
    const targets = await openFleet({
      ...fleetBase,
      name: 'fanout-targets',
      url: a.wsUrl,
      sockets: o.targets,
      userPrefix: `ft${run}-`,
    })
    fleets.push(targets)
    const bystanders = await openFleet({
      ...fleetBase,
      name: 'fanout-bystanders',
      url: b.wsUrl,
      sockets: o.bystanders,
      userPrefix: `fb${run}-`,
    })
    fleets.push(bystanders)
    if (targets.failed || bystanders.failed) {
      throw new Error(`fanout: sockets failed: ${[...targets.errors, ...bystanders.errors].join('; ')}`)
    }
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    let published = 0
    let publishErrors = 0

    const cpu = () => ({ a: cpuMs(a.proc.pid), b: cpuMs(b!.proc.pid) })
    const since = (c0: { a: number; b: number }) => {
      const c = cpu()
      return { a: c.a - c0.a, b: c.b - c0.b }
    }

    // idle floor
    const c0 = cpu()
    await delay(o.seconds * 1000) // the measurement window itself, not a wait for a condition
    const idleCpuMs = since(c0)

    const phase = async (name: string, socketsOnA: number): Promise<PhaseResult> => {
      const before = { a: await targets.stats(), b: await bystanders.stats() }
      await targets.stats(true) // drop latencies of earlier phases
      const total = Math.round(o.rate * o.seconds)
      const first = published
      const pendingWrites = new Set<Promise<unknown>>()
      const cStart = cpu()
      const t0 = performance.now()
      // Fixed rate: every 10 ms, publish what is due by now (bounded by `total`).
      while (published - first < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * o.rate))
        while (published - first < due) {
          const i = published++
          const user = `ft${run}-${i % o.targets}`
          const t = process.hrtime.bigint()
          const p = store
            .deliverToUser(user, `bench-${i}`, {
              id: `n-${run}-${i}`,
              kind: 'bench.fanout',
              createdAt: new Date().toISOString(),
              title: 'Your loan was approved',
              body: 'Loan L-1 for 50,000 BDT was approved.',
              data: { t: String(t), i },
            })
            .catch(() => {
              publishErrors++
            })
            .finally(() => pendingWrites.delete(p))
          pendingWrites.add(p)
        }
        await delay(10) // pacing of the load
      }
      await Promise.all(pendingWrites)
      // every notification delivered to A's sockets (bounded)
      const deadline = Date.now() + 30_000
      let stats = await targets.stats()
      while (stats.notifications - before.a.notifications < total && Date.now() < deadline) {
        await delay(100)
        stats = await targets.stats()
      }
      const wallSeconds = (performance.now() - t0) / 1000
      const c = since(cStart)
      const withLatencies = await targets.stats(true)
      const bStats = await bystanders.stats()
      const received = withLatencies.notifications - before.a.notifications
      const idleShareA = (idleCpuMs.a * wallSeconds) / o.seconds
      return {
        phase: name,
        socketsOnA,
        published: total,
        receivedOnA: received,
        receivedOnB: bStats.notifications - before.b.notifications,
        outOfOrder: withLatencies.outOfOrder - before.a.outOfOrder,
        latencyMs: percentiles(withLatencies.latenciesMs ?? []),
        cpuMs: c,
        aMicrosPerNotification: round(((c.a - idleShareA) * 1000) / total, 1),
        wallSeconds: round(wallSeconds, 2),
      }
    }

    const phases: PhaseResult[] = []
    phases.push(await phase('publish', o.targets))
    if (o.extra > 0) {
      const extra = await openFleet({
        ...fleetBase,
        name: 'fanout-extra',
        url: a.wsUrl,
        sockets: o.extra,
        userPrefix: `fx${run}-`,
      })
      fleets.push(extra)
      phases.push(await phase('publish, A holding more sockets', o.targets + extra.opened))
    }

    const sample = Array.from({ length: Math.min(100, o.targets) }, (_, i) =>
      userChannel(`ft${run}-${Math.floor((i * o.targets) / Math.min(100, o.targets))}`),
    )
    const numsub = (await redis.call('PUBSUB', 'SHARDNUMSUB', ...sample)) as Array<string | number>
    const subscribersPerTargetChannel = numsub.filter((_, i) => i % 2 === 1).map(Number)

    return {
      targets: o.targets,
      bystanders: o.bystanders,
      extra: o.extra,
      rate: o.rate,
      seconds: o.seconds,
      idleCpuMs,
      phases,
      metrics: { a: await gatewayMetrics(a), b: await gatewayMetrics(b) },
      subscribersPerTargetChannel,
      publishErrors,
    }
  } finally {
    await Promise.all(fleets.map((f) => f.close()))
    redis.disconnect()
    await Promise.all([a.proc.stop(), b?.proc.stop()])
  }
}
