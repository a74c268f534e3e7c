import { hostname } from 'node:os'
import cors from '@fastify/cors'
import { WS_PATH } from '@tidings/contracts'
import {
  type ChannelRouter,
  createChannelRouter,
  createInboxReader,
  createPresenceStore,
  createRevocationStore,
  createSessionAdmission,
  type RedisClient,
} from '@tidings/delivery'
import {
  healthAnswer,
  type Logger,
  type Readiness,
  redactUrl,
  redisErrorKind,
  tracingEnabled,
} from '@tidings/runtime'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import { gatewayReadiness } from './admin-server.ts'
import { createTokenVerifier, type Principal } from './auth/token-verifier.ts'
import type { GatewayConfig } from './config.ts'
import { createDeadlineWheel } from './deadlines.ts'
import { BAD_REQUEST, httpErrorCode, INTERNAL, NOT_FOUND, NOT_WEBSOCKET } from './errors.ts'
import { fullGc, HeapCompaction } from './heap-compaction.ts'
import { Hub } from './hub.ts'
import { registerInboxRoutes } from './inbox-routes.ts'
import { createGatewayMetrics } from './metrics.ts'
import { registerOpenApi } from './openapi.ts'
import type { PodContext } from './pod.ts'
import { createRequestRateLimiter } from './rate-limit.ts'
import { createRequestAuthenticator } from './request-auth.ts'
import { registerRevocationRoute } from './revocation.ts'
import { registerSseRoute } from './sse.ts'
import { createDeliveryTracing, type DeliveryTracing } from './tracing.ts'
import { attachWebSocketUpgrade, upgradeOnlyWebSockets } from './ws-upgrade.ts'

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
  hub: Hub
  /** The pod's shared services, with the hub's counts (what tests and the admin server read). */
  pod: PodContext & { readonly sessions: { readonly size: number }; readonly openSockets: number }
  /** What /readyz reports (admin-server.ts explains why a Redis outage alone does not fail it). */
  readiness(): Promise<Readiness>
  /** Readiness false, refuse new sockets, drain the open ones, close. */
  close(): Promise<void>
}

declare module 'fastify' {
  interface FastifyRequest {
    tidings: { principal: Principal } | null
  }
}

export async function buildGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config, logger, redis, subscriber } = deps
  const log = logger
  let tracing: DeliveryTracing | undefined
  const router: ChannelRouter = createChannelRouter(
    subscriber,
    (err) => log.error({ err }, 'pub/sub'),
    (kind, meta, listeners, deliver) => tracing!.fanOut(kind, meta, listeners, deliver),
  )
  const metrics = createGatewayMetrics(() => router.channelCount)
  metrics.maxConnections.set(config.admission.maxConnections)
  tracing = createDeliveryTracing({
    enabled: tracingEnabled(),
    pod: config.podName ?? hostname(),
    age: metrics.deliveryAge,
  })
  const presenceTtlMs = Math.ceil(config.socket.heartbeatMs * 2.5)
  const pod: PodContext = {
    config,
    store: createInboxReader(redis, config.inbox),
    router,
    presence: createPresenceStore(redis, { ttlMs: presenceTtlMs }),
    // a revocation outlives every token it revokes (they are expired by then)
    revocations: createRevocationStore(redis, {
      ttlSeconds: config.auth.maxLifetimeS + config.auth.clockToleranceS + 60,
    }),
    admission: createSessionAdmission(redis, {
      presenceTtlMs,
      stateTtlSeconds: config.inbox.stateTtlSeconds,
    }),
    rateLimiter: createRequestRateLimiter(redis, config, log),
    verifier: createTokenVerifier(config.auth),
    log,
    metrics,
    deadlines: createDeadlineWheel(),
    tracing,
    onSocketError: (err: Error) => log.debug({ err }, 'socket error'),
  }
  for (const conn of [redis, subscriber])
    conn.on('error', (err: Error) => metrics.redisErrors.inc({ kind: redisErrorKind(err) }))
  const compaction = heapCompaction(config.memory.compactAfterSessions, log, () => hub.size)
  const hub = new Hub(pod, compaction)
  hub.startHeartbeat()
  hub.watchSubscriber(subscriber)

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // per-request lines at 20k sockets are noise; refusals are counted in /metrics instead
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // a user id may be 128 characters (contracts); Fastify's default 100 answered 414
    routerOptions: { maxParamLength: 256 },
    // the client IP (per-IP rate limits) comes from X-Forwarded-For only through trusted hops
    trustProxy: (_address: string, hop: number) => hop < config.trustProxyHops,
    http: upgradeOnlyWebSockets,
  })
  // TCP connections, handshakes and closing sockets included: the pod's file descriptors stay
  // bounded whatever clients do; the headroom keeps probes and refusals answerable when full.
  app.server.maxConnections = config.admission.maxConnections + 1024
  await registerOpenApi(app) // before any route: it collects them as they are added
  app.decorateRequest('tidings', null)
  // Every error body is {statusCode, code, message} with a code from errors.ts.
  app.setErrorHandler(
    (err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
      if (err.validation) {
        return reply.code(400).send(new BAD_REQUEST(err.message))
      }
      const status = err.statusCode ?? 500
      if (status >= 500 && status !== 503) {
        req.log.error({ err, url: redactUrl(req.url) }, 'request failed')
        const { statusCode, code, message } = new INTERNAL()
        return reply.code(500).send({ statusCode, code, message })
      }
      const code = err.code?.startsWith('TDG_ERR_')
        ? err.code
        : status === 415
          ? 'TDG_ERR_BAD_REQUEST'
          : httpErrorCode(status)
      return reply.code(status).send({ statusCode: status, code, message: err.message })
    },
  )
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(new NOT_FOUND()))

  const readiness = () => gatewayReadiness(hub.draining, redis)
  // A constant answer on the public port too: cloud load balancers health-check the traffic port
  // by default. Readiness and metrics move to the admin port when ADMIN_PORT is set.
  // The answers are the admin server's own (healthAnswer), so both ports answer alike.
  const answerHealth = async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await healthAnswer(req.method, req.url, { registry: metrics.registry, readiness })
    return reply.code(a.status).header('cache-control', 'no-store').type(a.contentType).send(a.body)
  }
  app.get('/healthz', answerHealth)
  if (config.admin.port === undefined) {
    app.get('/readyz', answerHealth)
    app.get('/metrics', answerHealth)
  }

  const authenticate = createRequestAuthenticator(pod, () => hub.draining)

  // Browsers on an allowed origin may call the HTTP endpoints cross-origin (SSE, REST inbox).
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && config.auth.allowedOrigins.has(origin)),
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'last-event-id'],
    maxAge: 600,
  })
  registerSseRoute(app, pod, hub, authenticate)
  registerInboxRoutes(app, pod, authenticate)
  registerRevocationRoute(app, pod)

  // The WebSocket: everything is checked before the upgrade, so a refusal is an HTTP response,
  // never a socket (ws-upgrade.ts). A plain GET of the path is told to upgrade.
  attachWebSocketUpgrade(app, pod, hub, authenticate)
  app.get(WS_PATH, async () => {
    throw new NOT_WEBSOCKET()
  })

  async function close(): Promise<void> {
    await hub.drain(config.drain.windowMs, config.drain.reconnectJitterMs)
    hub.stop()
    pod.deadlines.stop()
    await app.close()
  }

  const podView = {
    ...pod,
    sessions: {
      get size() {
        return hub.size
      },
    },
    get openSockets() {
      return hub.openSockets
    },
  }
  return { app, hub, pod: podView, readiness, close }
}

/** COMPACT_AFTER_SESSIONS (heap-compaction.ts); none when it is 0, or when node cannot give us `gc`. */
function heapCompaction(afterSessions: number, log: Logger, openSessions: () => number) {
  if (afterSessions === 0) return undefined
  const gc = fullGc()
  if (!gc) {
    log.warn('COMPACT_AFTER_SESSIONS ignored: node runs with --freeze-flags-after-init (add --expose-gc)')
    return undefined
  }
  return new HeapCompaction({
    afterSessions,
    gc,
    onCompacted: (pauseMs, sessions) =>
      log.info(
        { pauseMs: Math.round(pauseMs), sessions, open: openSessions() },
        'heap compacted after a burst of sessions',
      ),
  })
}
