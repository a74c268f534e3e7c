import type { ConnectionOptions as TlsOptions } from 'node:tls'
import { withTimeout } from '@tidings/runtime'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { loadKnownScripts } from './lua-script.ts'
import type { RedisClient } from './redis-client.ts'

/** How to authenticate and encrypt: the same for every node of a Cluster. */
export interface RedisSecurity {
  /** ACL user (Redis ≥ 6); without it AUTH uses the `default` user. */
  username?: string
  password?: string
  /** TLS to every node; `{}` = verify against the system CAs. */
  tls?: TlsOptions
}

/** Where Redis is: one server (`redis://…`) or the seed nodes of a Redis Cluster. */
export type RedisTarget = ({ url: string } | { clusterNodes: Array<{ host: string; port: number }> }) &
  RedisSecurity & {
    /**
     * A connection that has waited this long for a reply (or, pub/sub, for its PING's) is dropped
     * and reconnected (REDIS_TIMEOUT_MS). Default DEFAULT_REDIS_TIMEOUT_MS.
     */
    timeoutMs?: number
  }

/** A Redis that stops answering without closing the connection is given up on after this long. */
export const DEFAULT_REDIS_TIMEOUT_MS = 10_000

// TCP keep-alive probes from this long after the last byte: a peer host that is gone (powered off,
// partitioned) is found by the kernel (libuv probes every second, 10 times) even on an idle
// connection. A hung Redis process still answers probes: the timeout above is for that.
const KEEPALIVE_MS = 10_000

// A Cluster re-reads its slot map this often, so a failover is seen even by connections no command
// goes through (a shard's pub/sub connection): ioredis then re-creates the shard's subscriber.
const CLUSTER_SLOTS_REFRESH_MS = 5_000

export interface ConnectionOptions {
  /** Shows up in CLIENT LIST; helps an operator tell the pods' connections apart. */
  name: string
  /** A pub/sub-only connection (the gateway's subscriber). */
  subscriber?: boolean
  /**
   * Commands written at once instead of auto-pipelined. An auto-pipeline is sent later, in the
   * async context of whichever command started it (or of the previous pipeline's reply), so a
   * tracing span around the call would not be its parent: the ioredis instrumentation would
   * then drop the command's span (it requires a parent).
   */
  unpipelined?: string[]
}

/**
 * Creates a connection that retries forever with capped backoff (a Redis outage pauses the
 * service; it does not kill it) and pipelines concurrent commands automatically.
 *
 * A Redis that vanishes without closing the connection (its host lost, a network partition, a hung
 * process: what a failover usually looks like from a client) is noticed within the timeout: ioredis
 * drops a connection whose command has had no reply for that long (`socketTimeout`) and reconnects,
 * to the new primary behind the same address. Without it, commands waited for the kernel's
 * retransmission limit (~15 min) and a pub/sub connection, which sends nothing, forever
 * (redis/ioredis#559). A command whose reply was lost with the connection is sent again once on
 * the next one (ioredis), then failed, and callers retry it: every write of ours is safe to repeat
 * (the deliver script's dedupe mark; a session admission that finds its own entry keeps its slot).
 */
export function createRedisConnection(target: RedisTarget, opts: ConnectionOptions): RedisClient {
  const timeoutMs = target.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS
  const common: RedisOptions = {
    connectionName: opts.name,
    enableAutoPipelining: !opts.subscriber,
    autoPipeliningIgnoredCommands: opts.unpipelined ?? [],
    // Commands issued while disconnected fail fast instead of piling up in memory; callers retry.
    maxRetriesPerRequest: opts.subscriber ? null : 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    socketTimeout: timeoutMs,
    keepAlive: KEEPALIVE_MS,
    ...securityOptions(target),
  }
  if ('url' in target) {
    const redis = new Redis(target.url, common)
    // (a Cluster's nodes come and go on their own; there a script's first call on a node is its EVAL)
    if (!opts.subscriber) redis.on('ready', () => loadKnownScripts(redis))
    else pingWhileReady(redis, timeoutMs)
    redis.on('close', () => clearStaleSocketTimeout(redis))
    return redis
  }
  return new Cluster(target.clusterNodes, {
    redisOptions: common,
    enableAutoPipelining: !opts.subscriber,
    shardedSubscribers: Boolean(opts.subscriber),
    slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
    clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  })
}

/**
 * A pub/sub connection only receives, so nothing would ever start its timeout: a PING every
 * `everyMs` does (detection within twice that). Only while ready: PINGs queued during an outage
 * would all be sent at once on reconnect.
 */
function pingWhileReady(redis: Redis, everyMs: number): void {
  const timer = setInterval(() => {
    if (redis.status === 'ready')
      redis.ping().catch(() => undefined) // a failure is the reconnect's to log
    // disconnect() while reconnecting ends the client without an 'end' event
    else if (redis.status === 'end') clearInterval(timer)
  }, everyMs)
  timer.unref()
  redis.once('end', () => clearInterval(timer))
}

/**
 * ioredis 5 leaves the socketTimeout timer of a connection that closed for another reason (a Redis
 * restart, CLIENT KILL, a reset) armed, and when it fires it destroys the next, healthy connection
 * and stops that one's own timer from arming meanwhile (redis/ioredis#2147, fixed in 6.0). A
 * Cluster's node and shard connections never reconnect (ioredis replaces them): only a standalone one.
 */
function clearStaleSocketTimeout(redis: Redis): void {
  const state = redis as unknown as { socketTimeoutTimer?: ReturnType<typeof setTimeout> }
  clearTimeout(state.socketTimeoutTimer)
  state.socketTimeoutTimer = undefined
}

/**
 * Whether Redis answers a PING within `timeoutMs`: the Redis check of both services' /readyz, which
 * must answer quickly even while the connection is retrying (never rejects).
 */
export function pingRedis(redis: RedisClient, timeoutMs = 1000): Promise<boolean> {
  const pong = redis.ping().then(
    (r) => r === 'PONG',
    () => false,
  )
  return withTimeout(pong, timeoutMs, () => false)
}

export function securityOptions(target: RedisSecurity): RedisOptions {
  return {
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: target.password }),
    ...(target.tls && { tls: target.tls }),
  }
}

/** Parses `host:port,host:port` (the REDIS_CLUSTER_NODES format). */
export function parseClusterNodes(value: string): Array<{ host: string; port: number }> {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((hp) => {
      const i = hp.lastIndexOf(':')
      const port = Number(hp.slice(i + 1))
      if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535)
        throw new RangeError(`not host:port: ${hp}`)
      return { host: hp.slice(0, i), port }
    })
}
