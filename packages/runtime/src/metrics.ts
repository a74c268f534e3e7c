import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'

export { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface MetricsRegistryOptions {
  /** The service's version (its package.json), for `tidings_build_info`. */
  version?: string
}

/**
 * A registry with the process metrics (CPU, RSS, event-loop lag, fds), a service label, and
 * `tidings_build_info{version,node}` = 1 (which build runs where: a dashboard's version panel).
 */
export function createMetricsRegistry(service: string, opts: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  new Gauge({
    name: 'tidings_build_info',
    help: 'Always 1; the labels say which build runs',
    labelNames: ['version', 'node'],
    registers: [registry],
  }).set({ version: opts.version ?? 'unknown', node: process.versions.node }, 1)
  return registry
}

/** What went wrong talking to Redis, as a small fixed set (a label of `tidings_redis_errors_total`). */
export const REDIS_ERROR_KINDS = [
  'connection',
  'timeout',
  'oom',
  'readonly',
  'loading',
  'cluster',
  'wrongtype',
  'script',
  'other',
] as const
export type RedisErrorKind = (typeof REDIS_ERROR_KINDS)[number]

export function redisErrorKind(err: unknown): RedisErrorKind {
  const e = err as { name?: string; code?: string; message?: string } | null
  const message = e?.message ?? String(err)
  if (/^OOM\b/.test(message)) return 'oom'
  if (/^READONLY\b/.test(message)) return 'readonly'
  if (/^LOADING\b/.test(message)) return 'loading'
  if (/^(CLUSTERDOWN|MOVED|ASK|TRYAGAIN|CROSSSLOT)\b/.test(message) || e?.name === 'ClusterAllFailedError')
    return 'cluster'
  if (/\bWRONGTYPE\b/.test(message)) return 'wrongtype'
  if (/^(NOSCRIPT|BUSY)\b|Error running script|user_script/.test(message)) return 'script'
  if (/timed? ?out/i.test(message) || e?.code === 'ETIMEDOUT') return 'timeout'
  if (
    e?.name === 'MaxRetriesPerRequestError' ||
    /^(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH)$/.test(e?.code ?? '') ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET/.test(message)
  )
    return 'connection'
  return 'other'
}

/** `tidings_redis_errors_total{kind}`, every kind at zero from the start. */
export function createRedisErrorCounter(registry: Registry): Counter<'kind'> {
  const c = new Counter({
    name: 'tidings_redis_errors_total',
    help: 'Failed Redis commands and connection errors, by kind',
    labelNames: ['kind'],
    registers: [registry],
  })
  for (const kind of REDIS_ERROR_KINDS) c.inc({ kind }, 0)
  return c
}
