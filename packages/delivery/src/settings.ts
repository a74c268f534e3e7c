// The delivery settings both services accept, with one meaning: the gateway and the dispatcher spread
// these properties into their own env schemas (as they do `authEnvProperties`) and call the
// `…FromEnv` functions for the rules a schema cannot express, so an operator writes the same
// variables for both (the Helm chart renders them once) and a bad one is a ConfigError (exit 78).
//   Redis:     `redisEnvProperties` + `redisTargetFromEnv`, both services.
//   Retention: `retentionEnvProperties` + `retentionFromEnv`, the writer (dispatcher);
//              `readerRetentionEnvProperties` (STATE_TTL_SECONDS only), the reader (gateway).
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import { type Static, type TObject, Type } from '@sinclair/typebox'
import { ConfigError, readSettingFile, requireThat, valueOrFile } from '@tidings/runtime'
import { DEFAULT_REDIS_TIMEOUT_MS, parseClusterNodes, type RedisTarget } from './connection.ts'
import { DEFAULT_RETENTION, type RetentionOptions } from './options.ts'

const File = (description: string) => Type.Optional(Type.String({ minLength: 1, description }))

export const redisEnvProperties = {
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'one Redis server (`rediss://` = TLS)' }),
  ),
  REDIS_CLUSTER_NODES: Type.Optional(
    Type.String({ minLength: 3, description: 'host:port,… seed nodes of a Redis Cluster' }),
  ),
  REDIS_USERNAME: Type.Optional(
    Type.String({ minLength: 1, description: 'ACL user (Redis ≥ 6; default: the `default` user)' }),
  ),
  REDIS_PASSWORD: Type.Optional(
    Type.String({ minLength: 1, description: 'password (`requirepass` or the ACL user’s)' }),
  ),
  REDIS_PASSWORD_FILE: File('file holding the password instead (a mounted Secret)'),
  REDIS_TLS: Type.Boolean({
    default: false,
    description: 'TLS to every Redis node (implied by a `rediss://` URL)',
  }),
  REDIS_TLS_CA_FILE: File('PEM CA bundle that signed the Redis certificates (default: system CAs)'),
  REDIS_TLS_CERT_FILE: File('client certificate (PEM) when Redis requires one (`tls-auth-clients`)'),
  REDIS_TLS_KEY_FILE: File('private key (PEM) of that client certificate'),
  REDIS_TLS_SERVERNAME: Type.Optional(
    Type.String({ minLength: 1, description: 'name the certificates must carry (default: the host)' }),
  ),
  REDIS_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: DEFAULT_REDIS_TIMEOUT_MS,
    description:
      'a connection without a reply for this long is dropped and reconnected (a Redis gone without closing it)',
  }),
}

export type RedisEnv = {
  REDIS_URL?: string
  REDIS_CLUSTER_NODES?: string
  REDIS_USERNAME?: string
  REDIS_PASSWORD?: string
  REDIS_PASSWORD_FILE?: string
  REDIS_TLS: boolean
  REDIS_TLS_CA_FILE?: string
  REDIS_TLS_CERT_FILE?: string
  REDIS_TLS_KEY_FILE?: string
  REDIS_TLS_SERVERNAME?: string
  REDIS_TIMEOUT_MS?: number
}

/** The rules the schema cannot express; files are read here, once (a bad path names its variable). */
export function redisTargetFromEnv(e: RedisEnv): RedisTarget {
  // Exactly one way to reach Redis: guessing which one wins would hide a deployment mistake.
  requireThat(
    (e.REDIS_URL === undefined) !== (e.REDIS_CLUSTER_NODES === undefined),
    e.REDIS_URL === undefined ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES',
    'exactly one of REDIS_URL or REDIS_CLUSTER_NODES must be set',
  )
  const password = valueOrFile(e as unknown as Record<string, string | undefined>, 'REDIS_PASSWORD')
  const urlTls = e.REDIS_URL?.startsWith('rediss://') ?? false
  if (e.REDIS_URL !== undefined) {
    const url = new URL(e.REDIS_URL)
    // ioredis lets credentials in the URL win silently; two sources of one password is a mistake.
    requireThat(
      !(url.password && password !== undefined),
      'REDIS_PASSWORD',
      'is set and REDIS_URL carries a password too: keep one',
    )
    requireThat(
      !(url.username && e.REDIS_USERNAME !== undefined),
      'REDIS_USERNAME',
      'is set and REDIS_URL carries a user name too: keep one',
    )
  }
  const tlsOn = e.REDIS_TLS || urlTls
  for (const name of [
    'REDIS_TLS_CA_FILE',
    'REDIS_TLS_CERT_FILE',
    'REDIS_TLS_KEY_FILE',
    'REDIS_TLS_SERVERNAME',
  ] as const) {
    requireThat(
      tlsOn || e[name] === undefined,
      name,
      'is set but TLS is off: set REDIS_TLS=true (or use a rediss:// URL)',
    )
  }
  requireThat(
    (e.REDIS_TLS_CERT_FILE === undefined) === (e.REDIS_TLS_KEY_FILE === undefined),
    e.REDIS_TLS_CERT_FILE === undefined ? 'REDIS_TLS_CERT_FILE' : 'REDIS_TLS_KEY_FILE',
    'and its pair (REDIS_TLS_CERT_FILE / REDIS_TLS_KEY_FILE) go together',
  )
  const tls: TlsOptions | undefined = tlsOn
    ? {
        ...(e.REDIS_TLS_CA_FILE && { ca: readSettingFile('REDIS_TLS_CA_FILE', e.REDIS_TLS_CA_FILE) }),
        ...(e.REDIS_TLS_CERT_FILE && {
          cert: readSettingFile('REDIS_TLS_CERT_FILE', e.REDIS_TLS_CERT_FILE),
        }),
        ...(e.REDIS_TLS_KEY_FILE && { key: readSettingFile('REDIS_TLS_KEY_FILE', e.REDIS_TLS_KEY_FILE) }),
        ...(e.REDIS_TLS_SERVERNAME && { servername: e.REDIS_TLS_SERVERNAME }),
      }
    : undefined
  const options = {
    ...(e.REDIS_TIMEOUT_MS !== undefined && { timeoutMs: e.REDIS_TIMEOUT_MS }),
    ...(e.REDIS_USERNAME !== undefined && { username: e.REDIS_USERNAME }),
    ...(password !== undefined && { password }),
    ...(tls && { tls }),
  }
  if (e.REDIS_URL !== undefined) return { url: e.REDIS_URL, ...options }
  let clusterNodes: Array<{ host: string; port: number }>
  try {
    clusterNodes = parseClusterNodes(e.REDIS_CLUSTER_NODES ?? '')
  } catch (err) {
    throw new ConfigError(`REDIS_CLUSTER_NODES ${(err as Error).message}`, 'REDIS_CLUSTER_NODES')
  }
  requireThat(clusterNodes.length > 0, 'REDIS_CLUSTER_NODES', 'must list at least one host:port')
  return { clusterNodes, ...options }
}

const Seconds = (min: number, max: number, def: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, default: def, description })
const YEAR = 31_536_000

/** What the reader (the gateway) needs: a read renews the user's state for this long. */
export const readerRetentionEnvProperties = {
  STATE_TTL_SECONDS: Seconds(
    60,
    YEAR,
    DEFAULT_RETENTION.stateTtlSeconds,
    'how long a user’s epoch/seq state outlives their last activity; the same in both services, ≥ INBOX_TTL_SECONDS',
  ),
}

/** What the writer (the dispatcher) needs: the reader's setting plus the inbox's limits. */
export const retentionEnvProperties = {
  INBOX_TTL_SECONDS: Seconds(
    1,
    YEAR,
    DEFAULT_RETENTION.inboxTtlSeconds,
    'how long a notification waits in an offline user’s inbox',
  ),
  INBOX_CAP: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: DEFAULT_RETENTION.inboxCap,
    description: 'most notifications kept per user (older ones are trimmed and reported as missed)',
  }),
  DEDUPE_WINDOW_SECONDS: Seconds(
    1,
    YEAR,
    DEFAULT_RETENTION.dedupeWindowSeconds,
    'the same event id within this window gives no second notification',
  ),
  ...readerRetentionEnvProperties,
}

export type RetentionEnv = Static<TObject<typeof retentionEnvProperties>>

/** The rule a schema cannot express: the state must outlive the inbox. */
export function retentionFromEnv(e: RetentionEnv): RetentionOptions {
  requireThat(
    e.STATE_TTL_SECONDS >= e.INBOX_TTL_SECONDS,
    'STATE_TTL_SECONDS',
    `must be at least INBOX_TTL_SECONDS (${e.INBOX_TTL_SECONDS}): an inbox must not outlive its epoch`,
  )
  return {
    inboxTtlSeconds: e.INBOX_TTL_SECONDS,
    inboxCap: e.INBOX_CAP,
    dedupeWindowSeconds: e.DEDUPE_WINDOW_SECONDS,
    stateTtlSeconds: e.STATE_TTL_SECONDS,
  }
}
