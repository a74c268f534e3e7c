// Private redis-server processes: standalone (startRedis) and a 3-primary cluster (startRedisCluster).
import { execFile } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
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

/**
 * A redis-server that only speaks TLS (the plain port is off) and wants a password: `requirepass`
 * for the `default` user and one ACL user with its own password. Debian's redis-server is built
 * with TLS (it links libssl).
 */
export interface SecureRedisOptions {
  /** PEM files (test/infra/certs.ts). */
  caFile: string
  serverCertFile: string
  serverKeyFile: string
  /** The `default` user's password (requirepass). */
  password: string
  /** An ACL user allowed every key, channel and command. */
  user: { name: string; password: string }
}

export interface SecureRedisServer {
  /** `rediss://127.0.0.1:<tls port>` without credentials. */
  url: string
  port: number
  stop(): Promise<void>
}

function secureConfig(o: SecureRedisOptions, tlsPort: number): string[] {
  return [
    'port 0',
    `tls-port ${tlsPort}`,
    `tls-cert-file ${o.serverCertFile}`,
    `tls-key-file ${o.serverKeyFile}`,
    `tls-ca-cert-file ${o.caFile}`,
    'tls-auth-clients optional',
    `requirepass ${o.password}`,
    `user ${o.user.name} on >${o.user.password} ~* &* +@all`,
  ]
}

export interface RedisOptions {
  /** AOF persistence (fsync every second), as production runs it: a restart keeps the data. */
  appendOnly?: boolean
  /** TLS only, passwords and an ACL user (see SecureRedisOptions). */
  secure?: SecureRedisOptions
}

function config(port: number, dir: string, clusterBusPort?: number, opts: RedisOptions = {}): string {
  const secure = opts.secure
  const lines = [
    ...(secure ? secureConfig(secure, port) : [`port ${port}`]),
    `bind ${host}`,
    `dir ${dir}`,
    'daemonize no',
    'logfile ""', // stdout, which spawnDetached sends to stdout.log in the temp dir
    'save ""', // no RDB: a restart starts empty (unless AOF is on) and the temp dir stays tiny
    opts.appendOnly ? 'appendonly yes' : 'appendonly no',
    'appendfsync everysec',
  ]
  if (clusterBusPort !== undefined) {
    // TLS on the cluster bus too: a secured cluster has no plaintext port at all
    if (secure) lines.push('tls-cluster yes')
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
    if (opts.secure) await runSecure(server, port, opts.secure)
    else await run(server, port)
    return server
  } catch (error) {
    return failStart(server, error)
  }
}

/** Internal: `persistentFor` (the env file of `cli.ts up`) is for `cli.ts up`; the public startRedis() is always a private, owned server. */
export async function launchRedis(
  opts: { persistentFor?: string } & RedisOptions = {},
): Promise<RedisServer> {
  await reapStale()
  const [port] = (await freePorts(1)) as [number]
  const server = await startNode(port, undefined, opts)
  if (opts.persistentFor) persist(server, opts.persistentFor)
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

function secureProbe(o: SecureRedisOptions) {
  return { ca: readFileSync(o.caFile, 'utf8'), auth: [o.user.name, o.user.password] as [string, string] }
}

/** Launches a TLS-only node and waits until it answers PING as the ACL user, over TLS. */
async function runSecure(server: Server, port: number, o: SecureRedisOptions): Promise<void> {
  await launch(server, 'redis-server', [join(server.entry.dir, 'redis.conf')], 'redis-server')
  const probe = secureProbe(o)
  await waitUntilReady(
    server,
    `redis-server tls :${port}`,
    async () => (await redisCommand(port, ['PING'], 2000, probe)) === 'PONG',
    10_000,
  )
}

/** A fresh private TLS-only redis-server with requirepass and an ACL user (see SecureRedisOptions). */
export async function startSecureRedis(options: SecureRedisOptions): Promise<SecureRedisServer> {
  await reapStale()
  const [port] = (await freePorts(1)) as [number]
  const server = await startNode(port, undefined, { secure: options })
  return { url: `rediss://${host}:${port}`, port, stop: once(() => stopServer(server)) }
}

/** A fresh private redis-server on a free port (fault-injection tests stop/restart it). */
export function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  return launchRedis(opts)
}

const execFileAsync = promisify(execFile)

/**
 * 3 primaries, no replicas, all slots assigned; resolves once every node reports cluster_state:ok.
 * `secure`: every node TLS-only (the cluster bus too) with requirepass and the ACL user.
 */
export async function startRedisCluster(opts: { secure?: SecureRedisOptions } = {}): Promise<RedisCluster> {
  await reapStale()
  const { secure } = opts
  const ports = await freePorts(6)
  const started = await Promise.allSettled(
    [0, 1, 2].map((i) => startNode(ports[i]!, ports[i + 3]!, { secure })),
  )
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
        ...(secure
          ? ['--tls', '--cacert', secure.caFile, '--user', secure.user.name, '--pass', secure.user.password]
          : []),
      ],
      { timeout: 30_000 },
    ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`,
      )
    })
    await waitFor(
      async () => {
        const probe = secure ? secureProbe(secure) : undefined
        const infos = await Promise.all(
          nodes.map((n) => redisCommand(n.port, ['CLUSTER', 'INFO'], 2000, probe)),
        )
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
