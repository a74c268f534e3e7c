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
  RedisSecurity

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
 */
export function createRedisConnection(target: RedisTarget, opts: ConnectionOptions): RedisClient {
  const common: RedisOptions = {
    connectionName: opts.name,
    enableAutoPipelining: !opts.subscriber,
    autoPipeliningIgnoredCommands: opts.unpipelined ?? [],
    // Commands issued while disconnected fail fast instead of piling up in memory; callers retry.
    maxRetriesPerRequest: opts.subscriber ? null : 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...securityOptions(target),
  }
  if ('url' in target) {
    const redis = new Redis(target.url, common)
    // (a Cluster's nodes come and go on their own; there a script's first call on a node is its EVAL)
    if (!opts.subscriber) redis.on('ready', () => loadKnownScripts(redis))
    return redis
  }
  return new Cluster(target.clusterNodes, {
    redisOptions: common,
    enableAutoPipelining: !opts.subscriber,
    shardedSubscribers: Boolean(opts.subscriber),
    clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  })
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
