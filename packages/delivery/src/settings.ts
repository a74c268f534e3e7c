// The Redis settings both services accept, with one meaning: the gateway and the dispatcher spread
// `redisEnvProperties` into their own env schemas and call `redisTargetFromEnv`, so an operator
// writes the same variables for both (the Helm chart renders them once).
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import { Type } from '@sinclair/typebox'
import { ConfigError, readSettingFile, requireThat, valueOrFile } from '@tidings/runtime'
import { parseClusterNodes, type RedisTarget } from './connection.ts'

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
  const security = {
    ...(e.REDIS_USERNAME !== undefined && { username: e.REDIS_USERNAME }),
    ...(password !== undefined && { password }),
    ...(tls && { tls }),
  }
  if (e.REDIS_URL !== undefined) return { url: e.REDIS_URL, ...security }
  let clusterNodes: Array<{ host: string; port: number }>
  try {
    clusterNodes = parseClusterNodes(e.REDIS_CLUSTER_NODES ?? '')
  } catch (err) {
    throw new ConfigError(`REDIS_CLUSTER_NODES ${(err as Error).message}`, 'REDIS_CLUSTER_NODES')
  }
  requireThat(clusterNodes.length > 0, 'REDIS_CLUSTER_NODES', 'must list at least one host:port')
  return { clusterNodes, ...security }
}
