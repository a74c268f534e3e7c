// Scale: many idle authenticated sockets across several real gateway processes (the 100,000 on
// ≥ 6 gateways, ~17,000 each under a 20,000-fd limit). Reports sockets opened / failed, what each
// gateway says it holds (tidings_ws_connections), unexpected closes while held, connect time, RSS per
// socket per gateway (no forced GC).
//
// Not implemented yet (the second half of the scale target): the reconnect storm — SIGKILL a
// gateway holding ~18,000 SDK clients (@tidings/client in the load generators, urls = [victim, others])
// while the dispatcher delivers, then time until every client resumed on the others, and loss.
import { setTimeout as delay } from 'node:timers/promises'
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
