// Scale: many idle authenticated sockets across several real gateway processes (the 100,000 on
// ≥ 6 gateways, ~17,000 each under a 20,000-fd limit). Reports sockets opened / failed, what each
// gateway says it holds (tidings_ws_connections), unexpected closes while held, connect time, RSS per
// socket per gateway (no forced GC).
//
// The reconnect storm (runStorm): `clients` SDK clients (@tidings/client in the load generators, urls =
// [victim, the others]) all on one gateway; notifications published to them at `rate`/s through the
// dispatcher's Lua script (createDeliveryStore, as fanout.ts does); SIGKILL the victim; time until every
// client is open again on the others, then loss = published − distinct notifications the SDKs showed.
import { setTimeout as delay } from 'node:timers/promises'
import { createDeliveryStore, createRedisConnection, DEFAULT_RETENTION } from '@tidings/delivery'
import type { Redis } from 'ioredis'
import { type Fleet, openFleet } from './lib/loadgen-client.ts'
import { metricValue } from './lib/metrics.ts'
import { fileLimitFor, rssKiB } from './lib/proc.ts'
import { BENCH_JWT_SECRET, type ServerUnderTest, startServer } from './lib/servers.ts'

export interface ScaleOptions {
  sockets: number
  gateways: number
  redisUrl: string
  logDir: string
}

export interface ScaleResult {
  sockets: number
  gateways: number
  opened: number
  failed: number
  retries: number
  errors: string[]
  connectSeconds: number
  /** Closed by a gateway while held idle (must be 0). */
  unexpectedCloses: number
  perGateway: Array<{ name: string; connections: number; rssKiBPerSocket: number }>
}

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const share = Math.ceil(o.sockets / o.gateways)
  const nofile = fileLimitFor(share)
  const gateways: ServerUnderTest[] = []
  const fleets: Fleet[] = []
  try {
    for (let g = 0; g < o.gateways; g++) {
      gateways.push(
        await startServer('gateway', {
          redisUrl: o.redisUrl,
          logDir: o.logDir,
          nofile,
          name: `scale-gateway-${g}`,
        }),
      )
    }
    const rssBefore = gateways.map((s) => rssKiB(s.proc.pid))
    const t0 = performance.now()
    const opened = await Promise.all(
      gateways.map((s, g) =>
        openFleet({
          name: `scale-${g}`,
          url: s.wsUrl,
          sockets: Math.min(share, o.sockets - g * share),
          from: g * share,
          userPrefix: `sc${process.pid}-`,
          secret: BENCH_JWT_SECRET,
          logDir: o.logDir,
          // the gateways admit in parallel: fewer handshakes in flight per load generator
          concurrency: 64,
        }),
      ),
    )
    fleets.push(...opened)
    const connectSeconds = +((performance.now() - t0) / 1000).toFixed(1)
    await delay(5000) // hold them idle a while: a gateway dropping sockets would show as unexpected closes
    const stats = await Promise.all(fleets.map((f) => f.stats()))
    const perGateway = []
    for (const [g, s] of gateways.entries()) {
      const connections = metricValue((await s.metrics())!, 'tidings_ws_connections') ?? Number.NaN
      perGateway.push({
        name: s.proc.name,
        connections,
        rssKiBPerSocket: +((rssKiB(s.proc.pid) - rssBefore[g]!) / Math.max(1, fleets[g]!.opened)).toFixed(2),
      })
    }
    return {
      sockets: o.sockets,
      gateways: o.gateways,
      opened: fleets.reduce((s, f) => s + f.opened, 0),
      failed: fleets.reduce((s, f) => s + f.failed, 0),
      retries: fleets.reduce((s, f) => s + f.retries, 0),
      errors: fleets.flatMap((f) => f.errors).slice(0, 5),
      connectSeconds,
      unexpectedCloses: stats.reduce((s, x) => s + x.unexpectedCloses, 0),
      perGateway,
    }
  } finally {
    await Promise.all(fleets.map((f) => f.close()))
    await Promise.all(gateways.map((s) => s.proc.stop()))
  }
}

export interface StormOptions {
  clients: number
  gateways: number
  rate: number
  redisUrl: string
  logDir: string
}

export interface StormResult {
  clients: number
  gateways: number
  connectSeconds: number
  /** SIGKILL → every client open again on another gateway, s (NaN: not within 180 s). */
  resumeSeconds: number
  published: number
  distinctShown: number
  lost: number
  publishErrors: number
}

export async function runStorm(o: StormOptions): Promise<StormResult> {
  const nofile = fileLimitFor(o.clients)
  const gateways: ServerUnderTest[] = []
  let fleet: Fleet | undefined
  const redis = createRedisConnection({ url: o.redisUrl }, { name: 'bench-storm-publisher' }) as Redis
  let publishing = true
  try {
    for (let g = 0; g < Math.max(2, o.gateways); g++) {
      gateways.push(
        await startServer('gateway', {
          redisUrl: o.redisUrl,
          logDir: o.logDir,
          nofile,
          name: `storm-gateway-${g}`,
        }),
      )
    }
    const [victim, ...others] = gateways
    const t0 = performance.now()
    const prefix = `st${process.pid}-`
    fleet = await openFleet({
      name: 'storm-sdk',
      url: victim!.wsUrl,
      fallbackUrls: others.map((s) => s.wsUrl),
      sockets: o.clients,
      userPrefix: prefix,
      secret: BENCH_JWT_SECRET,
      logDir: o.logDir,
      protocol: 'sdk',
      concurrency: 64,
    })
    const connectSeconds = +((performance.now() - t0) / 1000).toFixed(1)
    if (fleet.failed) throw new Error(`storm: SDK clients failed to connect: ${fleet.errors.join('; ')}`)
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    let published = 0
    let publishErrors = 0
    const inflight = new Set<Promise<unknown>>()
    const publisher = (async () => {
      const start = performance.now()
      while (publishing) {
        const due = Math.floor(((performance.now() - start) / 1000) * o.rate)
        while (published < due) {
          const i = published++
          const p = store
            .deliverToUser(`${prefix}${i % o.clients}`, `storm-${i}`, {
              id: `storm-${process.pid}-${i}`,
              kind: 'bench.storm',
              createdAt: new Date().toISOString(),
              title: 'Your loan was approved',
              body: 'Loan L-1 for 50,000 BDT was approved.',
              data: { i },
            })
            .catch(() => {
              publishErrors++
            })
            .finally(() => inflight.delete(p))
          inflight.add(p)
        }
        await delay(10) // pacing of the load
      }
      await Promise.all(inflight)
    })()
    await delay(2000) // notifications flowing before the kill: the window the storm must not lose
    const killedAt = performance.now()
    victim!.proc.child.kill('SIGKILL')
    let dropped = false
    let resumeSeconds = Number.NaN
    while (performance.now() - killedAt < 180_000) {
      const open = (await fleet.stats()).sdkOpen ?? 0
      if (open < o.clients) dropped = true
      else if (dropped) {
        resumeSeconds = +((performance.now() - killedAt) / 1000).toFixed(2)
        break
      }
      await delay(100) // polling the load generators' counters
    }
    await delay(2000) // keep publishing a little after everyone is back
    publishing = false
    await publisher
    // everything published shown once by some SDK client, bounded
    const deadline = performance.now() + 60_000
    let distinct = (await fleet.stats()).sdkDistinct ?? 0
    while (distinct < published && performance.now() < deadline) {
      await delay(250)
      distinct = (await fleet.stats()).sdkDistinct ?? 0
    }
    return {
      clients: o.clients,
      gateways: gateways.length,
      connectSeconds,
      resumeSeconds,
      published,
      distinctShown: distinct,
      lost: published - distinct,
      publishErrors,
    }
  } finally {
    publishing = false
    await fleet?.close()
    redis.disconnect()
    await Promise.all(gateways.map((s) => s.proc.stop()))
  }
}
