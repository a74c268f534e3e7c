// Private redis-server processes: standalone (startRedis) and a 3-primary cluster (startRedisCluster).
import { execFile } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { waitFor } from './helpers.ts'
import { freePorts } from './ports.ts'
import { terminate } from './process.ts'
import { reapStale } from './reaper.ts'
import { redisCommand } from './resp.ts'
import {
  failStart,
  launch,
  once,
  persist,
  prepareServer,
  type Server,
  stopServer,
  waitUntilReady,
} from './server.ts'

export interface RedisServer {
  url: string
  port: number
  stop(): Promise<void>
  /** Stop (SIGTERM), then start again on the same port; data survives only with `appendOnly`. */
  restart(): Promise<void>
}

export interface RedisCluster {
  nodes: { host: string; port: number }[]
  stop(): Promise<void>
}

const host = '127.0.0.1'

export interface RedisOptions {
  /** AOF persistence (fsync every second), as production runs it: a restart keeps the data. */
  appendOnly?: boolean
}

function config(port: number, dir: string, clusterBusPort?: number, opts: RedisOptions = {}): string {
  const lines = [
    `port ${port}`,
    `bind ${host}`,
    `dir ${dir}`,
    'daemonize no',
    'logfile ""', // stdout, which spawnDetached sends to stdout.log in the temp dir
    'save ""', // no RDB: a restart starts empty (unless AOF is on) and the temp dir stays tiny
    opts.appendOnly ? 'appendonly yes' : 'appendonly no',
    'appendfsync everysec',
  ]
  if (clusterBusPort !== undefined) {
    lines.push(
      'cluster-enabled yes',
      'cluster-config-file nodes.conf',
      'cluster-node-timeout 5000',
      // Redis 7 lets us choose the bus port instead of port+10000, which may be taken or above 65535.
      `cluster-port ${clusterBusPort}`,
    )
  }
  return `${lines.join('\n')}\n`
}

async function run(server: Server, port: number): Promise<void> {
  const conf = join(server.entry.dir, 'redis.conf')
  // redis-server rewrites its process title to "redis-server 127.0.0.1:<port>": the conf path is not kept.
  await launch(server, 'redis-server', [conf], 'redis-server')
  await waitUntilReady(
    server,
    `redis-server :${port}`,
    async () => (await redisCommand(port, ['PING'])) === 'PONG',
    10_000,
  )
}

async function startNode(port: number, clusterBusPort?: number, opts: RedisOptions = {}): Promise<Server> {
  const server = prepareServer('redis', `${host}:${port}`)
  try {
    writeFileSync(join(server.entry.dir, 'redis.conf'), config(port, server.entry.dir, clusterBusPort, opts))
    await run(server, port)
    return server
  } catch (error) {
    return failStart(server, error)
  }
}

/** Internal: `persistent` is for `cli.ts up`; the public startRedis() is always a private, owned server. */
export async function launchRedis(opts: { persistent?: boolean } & RedisOptions = {}): Promise<RedisServer> {
  await reapStale()
  const [port] = (await freePorts(1)) as [number]
  const server = await startNode(port, undefined, opts)
  if (opts.persistent) persist(server)
  return {
    url: `redis://${host}:${port}`,
    port,
    stop: once(() => stopServer(server)),
    restart: async () => {
      await terminate(server.entry, server.entry.marker, 5000)
      rmSync(join(server.entry.dir, 'dump.rdb'), { force: true })
      try {
        await run(server, port)
      } catch (error) {
        await failStart(server, error)
      }
    },
  }
}

/** A fresh private redis-server on a free port (fault-injection tests stop/restart it). */
export function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  return launchRedis(opts)
}

const execFileAsync = promisify(execFile)

/** 3 primaries, no replicas, all slots assigned; resolves once every node reports cluster_state:ok. */
export async function startRedisCluster(): Promise<RedisCluster> {
  await reapStale()
  const ports = await freePorts(6)
  const started = await Promise.allSettled([0, 1, 2].map((i) => startNode(ports[i]!, ports[i + 3]!)))
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const stop = once(async () => {
    await Promise.all(servers.map(stopServer))
  })
  try {
    const failed = started.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
    const nodes = ports.slice(0, 3).map((port) => ({ host, port }))
    await execFileAsync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `${n.host}:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`,
      )
    })
    await waitFor(
      async () => {
        const infos = await Promise.all(nodes.map((n) => redisCommand(n.port, ['CLUSTER', 'INFO'])))
        return infos.every((info) => info.includes('cluster_state:ok'))
      },
      { timeoutMs: 30_000, message: 'redis cluster did not reach cluster_state:ok on all nodes' },
    )
    return { nodes, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
