import type { Cluster, Redis } from 'ioredis'

/** A standalone Redis or a Redis Cluster: every store here works with both. */
export type RedisClient = Redis | Cluster
