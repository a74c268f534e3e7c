// The servers under test: the real gateway process, and the baselines in ../servers/.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { metricValue, scrape } from './metrics.ts'
import { freePort, type NodeProcess, repoRoot, spawnNode, waitHttpOk } from './proc.ts'

export const SERVER_KINDS = ['gateway', 'ws', 'fastify', 'ws-bare', 'gateway-baseline'] as const
export type ServerKind = (typeof SERVER_KINDS)[number]
/** What `--servers` means when not given: every kind but the what-if ones that need an option. */
export const DEFAULT_SERVER_KINDS: readonly ServerKind[] = ['gateway', 'ws', 'fastify', 'ws-bare']

export const SERVER_LABELS: Record<ServerKind, string> = {
  gateway: 'Tidings gateway (services/gateway/src/main.ts)',
  ws: 'raw ws + same JWT check + per-user SSUBSCRIBE',
  fastify: 'naive Fastify + @fastify/websocket + same JWT + SSUBSCRIBE',
  'ws-bare': 'bare ws server, no auth, no Redis (calibration)',
  'gateway-baseline': 'the gateway of --baseline DIR (a worktree of an earlier commit), same settings',
}

/** ≥ 32 bytes, as HS256 requires; only ever used on 127.0.0.1. */
export const BENCH_JWT_SECRET = 'tidings-bench-secret-0123456789-abcdefghij'

const scripts: Record<Exclude<ServerKind, 'gateway' | 'gateway-baseline'>, string> = {
  ws: fileURLToPath(new URL('../servers/raw-ws.ts', import.meta.url)),
  fastify: fileURLToPath(new URL('../servers/fastify-naive.ts', import.meta.url)),
  'ws-bare': fileURLToPath(new URL('../servers/ws-bare.ts', import.meta.url)),
}

/** The V8 flag the chart, compose file and image start the gateway with (deploy/helm gateway args). */
export const GATEWAY_PRODUCTION_NODE_OPTIONS = '--max-semi-space-size=4'

const nodeOptions = { gateway: '', floor: '' }
/**
 * NODE_OPTIONS of the servers the benches start from now on (run.ts `--gateway-node-options`,
 * `--floor-node-options`): `gateway` for the gateway and gateway-baseline (an A/B of the code runs both
 * with the same flags), `floor` for the ws, fastify and ws-bare baselines. What-ifs such as a bounded
 * young generation on both sides (like for like), or `--cpu-prof`.
 */
export function setNodeOptions(value: { gateway: string; floor: string }): void {
  Object.assign(nodeOptions, value)
}

let gatewayEnv: Record<string, string> = {}
/**
 * Settings of the `gateway` server only, over the bench's (run.ts `--gateway-env`): an A/B of one
 * setting against `gateway-baseline` run from the same checkout.
 */
export function setGatewayEnv(value: Record<string, string>): void {
  gatewayEnv = value
}

export interface ServerUnderTest {
  kind: ServerKind
  proc: NodeProcess
  baseUrl: string
  wsUrl: string
  /** Open sockets and Redis channels, as the server reports them. */
  counts(): Promise<{ sockets: number; channels: number }>
  /** The gateway's /metrics (undefined for baselines). */
  metrics(): Promise<string | undefined>
}

export interface StartOptions {
  redisUrl: string
  logDir: string
  /** Open-file limit of the server process. */
  nofile: number
  /** Distinguishes two servers of one kind (log file, POD_NAME). */
  name?: string
  inspect?: boolean
  /** Settings that replace the bench defaults (e.g. the production HEARTBEAT_MS in the e2e bench). */
  env?: Record<string, string>
  /** `gateway-baseline`: the checkout whose services/gateway runs (its own node_modules). */
  baselineRoot?: string
}

export async function startServer(kind: ServerKind, o: StartOptions): Promise<ServerUnderTest> {
  const name = o.name ?? kind
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const env: Record<string, string> = {
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: o.redisUrl,
      JWT_SECRET: BENCH_JWT_SECRET,
    }
    const gateway = kind === 'gateway' || kind === 'gateway-baseline'
    if (gateway) {
      Object.assign(env, {
        POD_NAME: name,
        JWT_ALGORITHMS: 'HS256',
        DEV_MODE: 'true',
        // tens of thousands of sockets from one IP and per user: no connect limits in a bench
        CONNECT_RATE_PER_IP: '1000000',
        CONNECT_RATE_PER_USER: '1000000',
        MAX_CONNECTIONS: String(Math.max(20_000, o.nofile)),
        MAX_SESSIONS_PER_USER: '1000',
        LOG_LEVEL: 'warn',
        // no heartbeat sweep, token warnings or drain during a bench
        HEARTBEAT_MS: '300000',
        DRAIN_MS: '0',
        RECONNECT_JITTER_MS: '0',
      })
    }
    const flags = gateway ? nodeOptions.gateway : nodeOptions.floor
    if (flags) env.NODE_OPTIONS = flags
    Object.assign(env, o.env)
    if (kind === 'gateway') Object.assign(env, gatewayEnv)
    let script: string
    if (kind === 'gateway-baseline') {
      if (!o.baselineRoot) throw new Error('gateway-baseline needs --baseline DIR')
      script = join(o.baselineRoot, 'services/gateway/src/main.ts')
    } else script = kind === 'gateway' ? join(repoRoot, 'services/gateway/src/main.ts') : scripts[kind]
    const proc = spawnNode({
      name,
      script,
      env,
      nofile: o.nofile,
      inspect: o.inspect ?? false,
      logDir: o.logDir,
    })
    const baseUrl = `http://127.0.0.1:${port}`
    try {
      await waitHttpOk(proc, `${baseUrl}/healthz`)
    } catch (err) {
      await proc.stop(2000)
      // the port may have been taken between freePort() and the bind: try another one
      if (attempt < 3 && /EADDRINUSE/.test(proc.tail())) continue
      throw err
    }
    return {
      kind,
      proc,
      baseUrl,
      wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
      async counts() {
        if (gateway) {
          const text = await scrape(baseUrl)
          return {
            sockets: metricValue(text, 'tidings_ws_connections') ?? Number.NaN,
            channels: metricValue(text, 'tidings_redis_channels') ?? Number.NaN,
          }
        }
        const res = await fetch(`${baseUrl}/stats`, { signal: AbortSignal.timeout(10_000) })
        return (await res.json()) as { sockets: number; channels: number }
      },
      metrics: () => (gateway ? scrape(baseUrl) : Promise.resolve(undefined)),
    }
  }
}
