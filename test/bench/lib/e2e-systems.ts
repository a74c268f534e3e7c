// The systems the end-to-end bench (e2e.ts) compares, each started the same way: `servers` server
// processes (2 by default) on one private Redis, fed from one topic of the run's Kafka; every process
// whose CPU counts is listed in `procs` (servers, Redis, Kafka; the producer is the bench itself and not
// counted).
//   tidings     N gateways (services/gateway, production HEARTBEAT_MS) + 1 dispatcher (services/dispatcher)
//   socketio    N × servers/socketio.ts (Socket.IO 4 + redis-adapter + kafkajs bridge): every emit
//               reaches every server (each pattern-subscribes to all of the namespace's channels)
//   socketio-sharded  the same with the adapter's sharded variant (Redis 7 sharded pub/sub, its default
//               "dynamic" mode: a channel per room, so an emit to a user reaches the servers holding them)
//   centrifugo  N × Centrifugo v6.9.1 (scripts/go-tool), Redis engine, Kafka consumer in publication
//               data mode → personal channels `personal:#<user>` with history
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTopics, startKafka, startRedis } from '@tidings/test/infra'
import { freePort, type NodeProcess, repoRoot, spawnNode, waitHttpOk } from './proc.ts'
import { BENCH_JWT_SECRET, startServer } from './servers.ts'

/** Every system the bench can run; `pnpm bench -- e2e` runs DEFAULT_SYSTEMS unless `--systems` says. */
export const SYSTEMS = ['tidings', 'socketio', 'centrifugo', 'socketio-sharded'] as const
export type SystemName = (typeof SYSTEMS)[number]
export const DEFAULT_SYSTEMS: readonly SystemName[] = ['tidings', 'socketio', 'centrifugo']

export const SYSTEM_LABELS: Record<SystemName, string> = {
  tidings: 'Tidings',
  socketio: 'Socket.IO 4 + redis-adapter',
  centrifugo: 'Centrifugo v6.9.1',
  'socketio-sharded': 'Socket.IO 4 + sharded redis-adapter',
}

export interface ProcRole {
  role: string
  pid: number
}

export interface RunningSystem {
  name: SystemName
  protocol: 'tidings' | 'socketio' | 'centrifugo'
  /** Where clients connect, one URL per server process (users split evenly). */
  wsUrls: string[]
  topic: string
  procs: ProcRole[]
  /** Server processes only (memory per socket). */
  serverPids: number[]
  /** Kafka headers the system needs on each event (Centrifugo's channel header). */
  headers(user: string): Record<string, string> | undefined
  stop(): Promise<void>
}

export interface SystemOptions {
  brokers: string[]
  kafkaPid: number
  logDir: string
  nofile: number
  partitions: number
  /** Server processes (gateways) per system (e2e `--e2e-servers`). */
  servers: number
  /** Added to the Tidings dispatcher's environment (e2e `--dispatcher-env`). */
  dispatcherEnv: Record<string, string>
}

/** A direct child of this process with this `comm` whose command line contains `needle`. */
export function childPid(comm: string, needle = ''): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const c = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (c !== comm || ppid !== process.pid) continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(needle)) return Number(entry)
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no child process ${comm} ${needle}`)
}

/** Server k's letter: A, B, C… (process roles and names). */
export const serverLetter = (k: number): string => String.fromCharCode(65 + k)

const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}`

async function withRedis(o: SystemOptions, name: SystemName) {
  const redis = await startRedis()
  const pid = childPid('redis-server', `:${redis.port}`)
  const topic = unique(`bench-${name}`)
  await createTopics(o.brokers, [topic], o.partitions)
  return {
    redis,
    topic,
    base: [
      { role: 'Redis', pid },
      { role: 'Kafka', pid: o.kafkaPid },
    ],
  }
}

export async function startTidings(o: SystemOptions): Promise<RunningSystem> {
  const { redis, topic, base } = await withRedis(o, 'tidings')
  const procs: NodeProcess[] = []
  try {
    const gw = []
    for (let k = 0; k < o.servers; k++) {
      const name = `e2e-gateway-${serverLetter(k).toLowerCase()}`
      // the production heartbeat (the gateway's default): its sweep is part of what users see
      const s = await startServer('gateway', {
        redisUrl: redis.url,
        logDir: o.logDir,
        nofile: o.nofile,
        name,
        env: { HEARTBEAT_MS: '25000' },
      })
      procs.push(s.proc)
      gw.push(s)
    }
    const port = await freePort()
    const dispatcher = spawnNode({
      name: 'e2e-dispatcher',
      script: join(repoRoot, 'services/dispatcher/src/main.ts'),
      logDir: o.logDir,
      env: {
        KAFKA_BROKERS: o.brokers.join(','),
        REDIS_URL: redis.url,
        KAFKA_GROUP_ID: unique('bench-dispatcher'),
        TOPIC_LOAN_DECISIONS: topic,
        TOPIC_NOTIFICATIONS_REQUESTED: `${topic}-requested`,
        TOPIC_DLQ: `${topic}-dlq`,
        TOPIC_PARTITIONS: String(o.partitions),
        HTTP_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        ...o.dispatcherEnv,
      },
    })
    procs.push(dispatcher)
    await waitHttpOk(dispatcher, `http://127.0.0.1:${port}/readyz`, 120_000)
    return {
      name: 'tidings',
      protocol: 'tidings',
      wsUrls: gw.map((s) => s.wsUrl),
      topic,
      procs: [
        ...gw.map((s, k) => ({ role: `gateway ${serverLetter(k)}`, pid: s.proc.pid })),
        { role: 'dispatcher', pid: dispatcher.pid },
        ...base,
      ],
      serverPids: gw.map((s) => s.proc.pid),
      headers: () => undefined,
      async stop() {
        await Promise.all(procs.map((p) => p.stop()))
        await redis.stop()
      },
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop(2000)))
    await redis.stop()
    throw err
  }
}

export const startSocketIo = (o: SystemOptions) => startSocketIoWith(o, 'socketio')
export const startSocketIoSharded = (o: SystemOptions) => startSocketIoWith(o, 'socketio-sharded')

async function startSocketIoWith(
  o: SystemOptions,
  name: 'socketio' | 'socketio-sharded',
): Promise<RunningSystem> {
  const { redis, topic, base } = await withRedis(o, name)
  const group = unique(`bench-${name}`)
  const procs: NodeProcess[] = []
  const ports: number[] = []
  try {
    for (let k = 0; k < o.servers; k++) {
      const port = await freePort()
      const p = spawnNode({
        name: `e2e-${name}-${serverLetter(k).toLowerCase()}`,
        script: fileURLToPath(new URL('../servers/socketio.ts', import.meta.url)),
        logDir: o.logDir,
        nofile: o.nofile,
        env: {
          PORT: String(port),
          HOST: '127.0.0.1',
          REDIS_URL: redis.url,
          JWT_SECRET: BENCH_JWT_SECRET,
          KAFKA_BROKERS: o.brokers.join(','),
          TOPIC: topic,
          GROUP_ID: group,
          ADAPTER: name === 'socketio-sharded' ? 'sharded' : 'classic',
        },
      })
      procs.push(p)
      ports.push(port)
      await waitHttpOk(p, `http://127.0.0.1:${port}/healthz`, 120_000)
    }
    return {
      name,
      protocol: 'socketio',
      wsUrls: ports.map((p) => `ws://127.0.0.1:${p}`),
      topic,
      procs: [...procs.map((p, k) => ({ role: `server ${serverLetter(k)}`, pid: p.pid })), ...base],
      serverPids: procs.map((p) => p.pid),
      headers: () => undefined,
      async stop() {
        await Promise.all(procs.map((p) => p.stop()))
        await redis.stop()
      },
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop(2000)))
    await redis.stop()
    throw err
  }
}

/** Builds Centrifugo from the Go module proxy on first use (cached by scripts/go-tool). */
export function centrifugoBinary(): string {
  const r = spawnSync(join(repoRoot, 'scripts/go-tool'), ['path', 'centrifugo'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (r.status !== 0) throw new Error(`scripts/go-tool path centrifugo failed (exit ${r.status})`)
  return r.stdout.trim()
}

export const CENTRIFUGO_NAMESPACE = 'personal'

export async function startCentrifugo(o: SystemOptions): Promise<RunningSystem> {
  const binary = centrifugoBinary()
  const { redis, topic, base } = await withRedis(o, 'centrifugo')
  const group = unique('bench-centrifugo')
  const procs: NodeProcess[] = []
  const ports: number[] = []
  try {
    for (let k = 0; k < o.servers; k++) {
      const name = `e2e-centrifugo-${serverLetter(k).toLowerCase()}`
      const port = await freePort()
      const config = {
        node: { name },
        http_server: { address: '127.0.0.1', port },
        log: { level: 'error' },
        usage_stats: { disabled: true },
        health: { enabled: true },
        engine: { type: 'redis', redis: { address: [redis.url] } },
        client: {
          token: { hmac_secret_key: BENCH_JWT_SECRET },
          subscribe_to_user_personal_channel: {
            enabled: true,
            personal_channel_namespace: CENTRIFUGO_NAMESPACE,
          },
        },
        // personal channels with history, as the comparison ran it (an inbox of sorts)
        channel: {
          namespaces: [
            { name: CENTRIFUGO_NAMESPACE, history_size: 100, history_ttl: '300s', force_recovery: true },
          ],
        },
        consumers: [
          {
            name: 'kafka',
            enabled: true,
            type: 'kafka',
            kafka: {
              brokers: o.brokers,
              topics: [topic],
              consumer_group: group,
              publication_data_mode: { enabled: true, channels_header: 'centrifugo-channels' },
            },
          },
        ],
      }
      const file = join(o.logDir, `${name}.json`)
      writeFileSync(file, JSON.stringify(config, null, 2))
      const p = spawnNode({
        name,
        script: binary,
        command: binary,
        args: ['--config', file],
        logDir: o.logDir,
        nofile: o.nofile,
      })
      procs.push(p)
      ports.push(port)
      await waitHttpOk(p, `http://127.0.0.1:${port}/health`, 60_000)
    }
    return {
      name: 'centrifugo',
      protocol: 'centrifugo',
      wsUrls: ports.map((p) => `ws://127.0.0.1:${p}/connection/websocket`),
      topic,
      procs: [...procs.map((p, k) => ({ role: `server ${serverLetter(k)}`, pid: p.pid })), ...base],
      serverPids: procs.map((p) => p.pid),
      headers: (user) => ({ 'centrifugo-channels': `${CENTRIFUGO_NAMESPACE}:#${user}` }),
      async stop() {
        await Promise.all(procs.map((p) => p.stop()))
        await redis.stop()
      },
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop(2000)))
    await redis.stop()
    throw err
  }
}

export const START: Record<SystemName, (o: SystemOptions) => Promise<RunningSystem>> = {
  tidings: startTidings,
  socketio: startSocketIo,
  centrifugo: startCentrifugo,
  'socketio-sharded': startSocketIoSharded,
}

/**
 * Kafka's own production JVM settings (kafka-server-start.sh's KAFKA_HEAP_OPTS and
 * KAFKA_JVM_PERFORMANCE_OPTS: G1, full tiered JIT), not the launcher's fast-start test settings
 * (SerialGC, C1 only). TIDINGS_KAFKA_JVM_OPTS set by the caller wins.
 */
export const PRODUCTION_KAFKA_JVM_OPTS =
  '-Xms1g -Xmx1g -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true'

/** A private broker for the e2e bench, JVM configured like production; its pid for the CPU figures. */
export async function startProductionKafka(): Promise<{
  brokers: string[]
  pid: number
  jvmOpts: string
  stop(): Promise<void>
}> {
  const before = process.env.TIDINGS_KAFKA_JVM_OPTS
  const jvmOpts = before || PRODUCTION_KAFKA_JVM_OPTS
  process.env.TIDINGS_KAFKA_JVM_OPTS = jvmOpts
  try {
    const kafka = await startKafka()
    return { brokers: kafka.brokers, pid: childPid('java'), jvmOpts, stop: () => kafka.stop() }
  } finally {
    if (before === undefined) delete process.env.TIDINGS_KAFKA_JVM_OPTS
    else process.env.TIDINGS_KAFKA_JVM_OPTS = before
  }
}
