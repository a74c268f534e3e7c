import { randomUUID } from 'node:crypto'
import websocket from '@fastify/websocket'
import { CloseCode, WS_PATH } from '@tidings/contracts'
import {
  type ChannelRouter,
  createChannelRouter,
  createDeliveryStore,
  createPresenceStore,
  type RedisClient,
  type ResumePoint,
} from '@tidings/delivery'
import { type Logger, redactUrl } from '@tidings/runtime'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify'
import type { WebSocket } from 'ws'
import { extractToken, isOriginAllowed, selectSubprotocol } from './auth/handshake.ts'
import { AuthError, authErrorStatus, createTokenVerifier, type Principal } from './auth/token-verifier.ts'
import type { GatewayConfig } from './config.ts'
import { createDeadlineWheel } from './deadlines.ts'
import {
  BAD_RESUME,
  DRAINING,
  NOT_WEBSOCKET,
  ORIGIN_FORBIDDEN,
  TOKEN_EXPIRED,
  TOKEN_INVALID,
  TOKEN_MISSING,
} from './errors.ts'
import { createGatewayMetrics } from './metrics.ts'
import { drainSessions, type PodContext, startHeartbeat } from './pod.ts'
import { startWebSocketSession } from './ws-transport.ts'

export interface GatewayDeps {
  config: GatewayConfig
  logger: Logger
  /** Commands (scripts, acks, presence). */
  redis: RedisClient
  /** Pub/sub only. */
  subscriber: RedisClient
}

export interface Gateway {
  app: FastifyInstance
  pod: PodContext
  /** Readiness false, refuse new sockets, drain the open ones, close. */
  close(): Promise<void>
}

declare module 'fastify' {
  interface FastifyRequest {
    tidings: { principal: Principal; resume: ResumePoint } | null
  }
}

const EPOCH_RE = /^[A-Za-z0-9_-]{1,64}$/

export async function buildGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config, logger, redis, subscriber } = deps
  const log = logger
  const router: ChannelRouter = createChannelRouter(subscriber, (err) => log.error({ err }, 'pub/sub'))
  const metrics = createGatewayMetrics(() => router.channelCount)
  const pod: PodContext = {
    config,
    store: createDeliveryStore(redis, {
      inboxTtlSeconds: config.INBOX_TTL_SECONDS,
      inboxCap: config.INBOX_CAP,
      dedupeWindowSeconds: config.DEDUPE_WINDOW_SECONDS,
      stateTtlSeconds: config.STATE_TTL_SECONDS,
    }),
    router,
    presence: createPresenceStore(redis, { ttlMs: Math.ceil(config.HEARTBEAT_MS * 2.5) }),
    verifier: createTokenVerifier(config.auth),
    log,
    metrics,
    sessions: new Set(),
    deadlines: createDeadlineWheel(),
  }
  let draining = false
  const stopHeartbeat = startHeartbeat(pod)

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // per-request lines at 20k sockets are noise; refusals are counted in /metrics instead
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  })
  app.decorateRequest('tidings', null)
  app.setErrorHandler((err: Error, req, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? 500
    if (status >= 500) req.log.error({ err, url: redactUrl(req.url) }, 'request failed')
    const code = (err as { code?: string }).code ?? 'TDG_ERR_INTERNAL'
    reply.code(status).send({
      statusCode: status,
      code,
      message: status >= 500 && status !== 503 ? 'internal error' : err.message,
    })
  })

  await app.register(websocket, {
    options: {
      maxPayload: config.MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handleProtocols: (protocols) => selectSubprotocol(protocols),
      // we track sockets ourselves (pod.sessions); ws's own Set would be a second copy
      clientTracking: false,
    },
    // a failure inside our handler: close with 1011 rather than leaving the socket hanging
    errorHandler: (err, socket) => {
      log.error({ err }, 'websocket handler failed')
      socket.close(1011, 'internal error')
    },
    preClose: (done) => done(),
  })

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    if (draining) return reply.code(503).send({ status: 'draining' })
    try {
      await withTimeout(redis.ping(), 1000)
      return { status: 'ready' }
    } catch {
      return reply.code(503).send({ status: 'redis unavailable' })
    }
  })
  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })

  // Everything is checked before the upgrade: a refusal is an HTTP response, never a socket.
  async function admit(req: FastifyRequest): Promise<void> {
    if (draining) {
      metrics.refused.inc({ reason: 'draining' })
      throw new DRAINING()
    }
    const origin = req.headers.origin
    if (!isOriginAllowed(origin, config.auth.allowedOrigins)) {
      metrics.refused.inc({ reason: 'origin' })
      throw new ORIGIN_FORBIDDEN(String(origin))
    }
    const extracted = extractToken(req.headers)
    if (!extracted) {
      metrics.refused.inc({ reason: 'token_missing' })
      throw new TOKEN_MISSING()
    }
    let principal: Principal
    try {
      principal = await pod.verifier.verify(extracted.token)
    } catch (err) {
      if (!(err instanceof AuthError)) throw err
      metrics.refused.inc({ reason: err.code === 'token_expired' ? 'token_expired' : 'token_invalid' })
      if (authErrorStatus(err) === 503) throw err
      throw err.code === 'token_expired' ? new TOKEN_EXPIRED() : new TOKEN_INVALID(err.message)
    }
    req.tidings = { principal, resume: parseResume(req.query as Record<string, unknown>) }
  }

  function parseResume(q: Record<string, unknown>): ResumePoint {
    const resume: ResumePoint = {}
    if (q.lastSeq !== undefined) {
      const n = Number(q.lastSeq)
      if (!Number.isSafeInteger(n) || n < 0) throw new BAD_RESUME()
      resume.lastSeq = n
    }
    if (q.epoch !== undefined) {
      if (typeof q.epoch !== 'string' || !EPOCH_RE.test(q.epoch)) throw new BAD_RESUME()
      resume.epoch = q.epoch
    }
    return resume
  }

  app.route({
    method: 'GET',
    url: WS_PATH,
    preValidation: async (req) => {
      if (!req.ws) throw new NOT_WEBSOCKET()
      await admit(req)
    },
    handler: async () => {
      throw new NOT_WEBSOCKET()
    },
    wsHandler: (socket: WebSocket, req: FastifyRequest) => {
      const admitted = req.tidings!
      // @fastify/websocket's own error listener closes over the request and reply, which would
      // keep them alive as long as the socket; the session installs a lighter one.
      socket.removeAllListeners('error')
      req.tidings = null
      if (draining || pod.sessions.size >= config.MAX_CONNECTIONS) socket.on('error', () => {})
      if (draining) return void socket.close(CloseCode.ServiceRestart, 'server restart')
      if (pod.sessions.size >= config.MAX_CONNECTIONS) {
        metrics.closes.inc({ code: String(CloseCode.TryAgainLater) })
        return void socket.close(CloseCode.TryAgainLater, 'pod full')
      }
      startWebSocketSession(socket, randomUUID(), admitted.principal, pod, admitted.resume)
    },
  })

  async function close(): Promise<void> {
    draining = true
    log.info({ sessions: pod.sessions.size, drainMs: config.DRAIN_MS }, 'draining')
    await drainSessions(pod, config.DRAIN_MS, config.RECONNECT_JITTER_MS)
    stopHeartbeat()
    pod.deadlines.stop()
    await app.close()
  }

  return { app, pod, close }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (e) => {
        clearTimeout(t)
        reject(e)
      },
    )
  })
}
