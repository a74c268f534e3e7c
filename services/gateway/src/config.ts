import { type Static, Type } from '@sinclair/typebox'
import {
  type InboxReaderOptions,
  type RedisTarget,
  readerRetentionEnvProperties,
  redisEnvProperties,
  redisTargetFromEnv,
} from '@tidings/delivery'
import { type LogLevel, loadConfig, logLevelEnvProperties, requireThat } from '@tidings/runtime'
import { type AuthOptions, authEnvProperties, authOptionsFromEnv } from './auth/config.ts'

const Int = (min: number, max: number, def: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, default: def, description })

/** Every setting of a gateway pod; each is an environment variable of the same name. */
export const GatewayEnv = Type.Object({
  ...authEnvProperties,
  HOST: Type.String({ default: '0.0.0.0', description: 'interface to listen on' }),
  PORT: Int(0, 65535, 8080, 'HTTP + WebSocket port (0 = any free port)'),
  POD_NAME: Type.Optional(
    Type.String({ minLength: 1, description: 'this pod in logs and presence (default: hostname)' }),
  ),
  // Probes and /metrics on a port of their own, never reachable through the public listener (see
  // admin-server.ts). Unset: they stay on PORT, for a single-port development setup.
  ADMIN_PORT: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 65535,
      description: 'port of /healthz, /readyz, /metrics (then not served on PORT); 0 = any free port',
    }),
  ),
  ADMIN_HOST: Type.String({ default: '0.0.0.0', description: 'interface of the admin port' }),
  ...redisEnvProperties,
  HEARTBEAT_MS: Int(1000, 300_000, 25_000, 'WebSocket ping interval; a socket that missed a pong is closed'),
  MAX_FRAME_BYTES: Int(256, 1_048_576, 16_384, 'largest inbound frame; bigger → close 1009'),
  MAX_SESSIONS_PER_USER: Int(1, 1000, 5, 'open sessions of one user across all pods; the next gets 4029'),
  MAX_CONNECTIONS: Int(
    1,
    1_000_000,
    18_000,
    'sockets per pod, closing ones included; the next upgrade gets 503, the next SSE stream 503',
  ),
  CLOSE_TIMEOUT_MS: Int(
    100,
    30_000,
    2_000,
    'a socket the server closed is terminated when the client has not answered the close by then',
  ),
  SSE_MAX_STREAM_MS: Int(
    1000,
    3_600_000,
    300_000,
    'an SSE stream ends (reconnect + 1012) after this long ±20 %: a vanished idle phone frees its slot',
  ),
  MAX_QUEUED_FRAMES: Int(
    1,
    10_000,
    64,
    'inbound frames waiting while a handler awaits (an ack on a slow Redis); beyond → 4008. Keep ≥ RATE_LIMIT_BURST',
  ),
  MAX_BUFFERED_BYTES: Int(
    16_384,
    64 * 1_048_576,
    1_048_576,
    'unsent bytes queued for one socket, beyond what is left of its last replay, before it is closed 1013 (slow reader)',
  ),
  RATE_LIMIT_PER_SECOND: Int(1, 10_000, 20, 'inbound frames per second per socket (sustained)'),
  RATE_LIMIT_BURST: Int(1, 10_000, 40, 'inbound frames allowed in a burst; beyond the limit → 4008'),
  HTTP_RATE_PER_USER: Int(
    1,
    1_000_000,
    600,
    '`/v1/inbox` + `/v1/inbox/ack` requests per user per minute, all pods; beyond → 429',
  ),
  HTTP_RATE_PER_IP: Int(
    1,
    1_000_000,
    6000,
    '`/v1/inbox` + `/v1/inbox/ack` requests per client IP per minute, all pods',
  ),
  CONNECT_RATE_PER_USER: Int(
    1,
    1_000_000,
    30,
    'WebSocket upgrades + SSE streams per user per minute, all pods; beyond → 429',
  ),
  CONNECT_RATE_PER_IP: Int(
    1,
    1_000_000,
    3000,
    'WebSocket upgrades + SSE streams per client IP per minute, all pods',
  ),
  TRUST_PROXY_HOPS: Int(
    0,
    10,
    0,
    'proxies in front of the pod whose X-Forwarded-For is trusted for the client IP',
  ),
  MAX_VIOLATIONS: Int(1, 1000, 5, 'bad frames (unknown type, bad request) tolerated before close 1008'),
  REAUTH_WARNING_MS: Int(1000, 3_600_000, 60_000, 'send `reauth` this long before the token expires'),
  EXPIRY_GRACE_MS: Int(
    0,
    300_000,
    30_000,
    'close 4001 this long after the token expired without a fresh `auth`',
  ),
  DRAIN_MS: Int(0, 600_000, 10_000, 'on SIGTERM, spread closing (1012) the sockets over this window'),
  RECONNECT_JITTER_MS: Int(0, 600_000, 5_000, '`reconnect.afterMs` is drawn from 0..this'),
  COMPACT_AFTER_SESSIONS: Int(
    0,
    10_000_000,
    1000,
    'after this many sessions opened or closed, once the burst is over (a 2 s window with at most 1 % of that, ≥ 5): one full GC, so V8 returns the memory it left; at most every 5 min (a pause of ~5 ms per 1,000 open sockets); 0 = never',
  ),
  // below Kubernetes' default 30 s terminationGracePeriodSeconds, so that we exit before SIGKILL
  SHUTDOWN_GRACE_MS: Int(1000, 900_000, 25_000, 'hard deadline for a graceful stop'),
  // Only what the inbox reader uses: INBOX_TTL_SECONDS, INBOX_CAP and DEDUPE_WINDOW_SECONDS shape the
  // dispatcher's writes and are not read here (set in the gateway's environment, they are ignored).
  ...readerRetentionEnvProperties,
  ...logLevelEnvProperties,
})
export type GatewayEnv = Static<typeof GatewayEnv>

/**
 * A gateway pod's settings as the code uses them: grouped and camelCase, like the dispatcher's
 * (each field names the variable it comes from in GatewayEnv). Built once at start by
 * loadGatewayConfig and passed down; nothing below reads the environment.
 */
export interface GatewayConfig {
  /** HOST, PORT */
  listen: { host: string; port: number }
  /** ADMIN_HOST, ADMIN_PORT; `port` undefined: /healthz, /readyz, /metrics are served on PORT. */
  admin: { host: string; port: number | undefined }
  /** POD_NAME (undefined: the hostname) */
  podName: string | undefined
  socket: {
    /** HEARTBEAT_MS */
    heartbeatMs: number
    /** MAX_FRAME_BYTES */
    maxFrameBytes: number
    /** MAX_QUEUED_FRAMES */
    maxQueuedFrames: number
    /** MAX_BUFFERED_BYTES */
    maxBufferedBytes: number
    /** CLOSE_TIMEOUT_MS */
    closeTimeoutMs: number
    /** MAX_VIOLATIONS */
    maxViolations: number
  }
  /** SSE_MAX_STREAM_MS */
  sse: { maxStreamMs: number }
  /** MAX_CONNECTIONS, MAX_SESSIONS_PER_USER */
  admission: { maxConnections: number; maxSessionsPerUser: number }
  rateLimit: {
    /** RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST: inbound frames of one socket */
    framesPerSecond: number
    frameBurst: number
    /** HTTP_RATE_PER_USER, HTTP_RATE_PER_IP: REST requests per minute, all pods */
    httpPerUserPerMinute: number
    httpPerIpPerMinute: number
    /** CONNECT_RATE_PER_USER, CONNECT_RATE_PER_IP: sockets + SSE streams per minute, all pods */
    connectPerUserPerMinute: number
    connectPerIpPerMinute: number
  }
  /** TRUST_PROXY_HOPS */
  trustProxyHops: number
  /** REAUTH_WARNING_MS, EXPIRY_GRACE_MS */
  reauth: { warningMs: number; expiryGraceMs: number }
  /** DRAIN_MS, RECONNECT_JITTER_MS */
  drain: { windowMs: number; reconnectJitterMs: number }
  /** SHUTDOWN_GRACE_MS */
  shutdownGraceMs: number
  /** COMPACT_AFTER_SESSIONS (0: never) */
  memory: { compactAfterSessions: number }
  /** LOG_LEVEL */
  logLevel: LogLevel
  /** STATE_TTL_SECONDS */
  inbox: InboxReaderOptions
  redis: RedisTarget
  auth: AuthOptions
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const c = loadConfig(GatewayEnv, env)
  const redis: RedisTarget = redisTargetFromEnv(c)
  requireThat(
    c.ADMIN_PORT === undefined || c.ADMIN_PORT === 0 || c.ADMIN_PORT !== c.PORT,
    'ADMIN_PORT',
    'must differ from PORT',
  )
  requireThat(
    c.RATE_LIMIT_BURST >= c.RATE_LIMIT_PER_SECOND,
    'RATE_LIMIT_BURST',
    'must be at least RATE_LIMIT_PER_SECOND',
  )
  requireThat(
    c.SHUTDOWN_GRACE_MS > c.DRAIN_MS + 1000,
    'SHUTDOWN_GRACE_MS',
    'must exceed DRAIN_MS by at least a second, or the drain is cut short',
  )
  return {
    listen: { host: c.HOST, port: c.PORT },
    admin: { host: c.ADMIN_HOST, port: c.ADMIN_PORT },
    podName: c.POD_NAME,
    socket: {
      heartbeatMs: c.HEARTBEAT_MS,
      maxFrameBytes: c.MAX_FRAME_BYTES,
      maxQueuedFrames: c.MAX_QUEUED_FRAMES,
      maxBufferedBytes: c.MAX_BUFFERED_BYTES,
      closeTimeoutMs: c.CLOSE_TIMEOUT_MS,
      maxViolations: c.MAX_VIOLATIONS,
    },
    sse: { maxStreamMs: c.SSE_MAX_STREAM_MS },
    admission: { maxConnections: c.MAX_CONNECTIONS, maxSessionsPerUser: c.MAX_SESSIONS_PER_USER },
    rateLimit: {
      framesPerSecond: c.RATE_LIMIT_PER_SECOND,
      frameBurst: c.RATE_LIMIT_BURST,
      httpPerUserPerMinute: c.HTTP_RATE_PER_USER,
      httpPerIpPerMinute: c.HTTP_RATE_PER_IP,
      connectPerUserPerMinute: c.CONNECT_RATE_PER_USER,
      connectPerIpPerMinute: c.CONNECT_RATE_PER_IP,
    },
    trustProxyHops: c.TRUST_PROXY_HOPS,
    reauth: { warningMs: c.REAUTH_WARNING_MS, expiryGraceMs: c.EXPIRY_GRACE_MS },
    drain: { windowMs: c.DRAIN_MS, reconnectJitterMs: c.RECONNECT_JITTER_MS },
    shutdownGraceMs: c.SHUTDOWN_GRACE_MS,
    memory: { compactAfterSessions: c.COMPACT_AFTER_SESSIONS },
    logLevel: c.LOG_LEVEL,
    inbox: { stateTtlSeconds: c.STATE_TTL_SECONDS },
    redis,
    auth: authOptionsFromEnv(c),
  }
}
