import { hostname } from 'node:os'
import cors from '@fastify/cors'
import websocket from '@fastify/websocket'
import { WS_PATH } from '@tidings/contracts'
import {
  type ChannelRouter,
  createChannelRouter,
  createInboxReader,
  createPresenceStore,
  createRevocationStore,
  createSessionAdmission,
  type RedisClient,
  type ResumePoint,
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
import type { WebSocket } from 'ws'
import { gatewayReadiness } from './admin-server.ts'
import { selectSubprotocol } from './auth/handshake.ts'
import { createTokenVerifier, type Principal } from './auth/token-verifier.ts'
import { HANDLER_FAILED } from './close-reasons.ts'
import type { GatewayConfig } from './config.ts'
import { createDeadlineWheel } from './deadlines.ts'
import { BAD_REQUEST, httpErrorCode, INTERNAL, NOT_FOUND, NOT_WEBSOCKET } from './errors.ts'
import { Hub } from './hub.ts'
import { registerInboxRoutes } from './inbox-routes.ts'
import { createGatewayMetrics } from './metrics.ts'
import { registerOpenApi } from './openapi.ts'
import type { PodContext } from './pod.ts'
import { createRequestRateLimiter } from './rate-limit.ts'
import { createRequestAuthenticator } from './request-auth.ts'
import { parseResumeQuery } from './resume.ts'
import { registerRevocationRoute } from './revocation.ts'
import { registerSseRoute } from './sse.ts'
import { createDeliveryTracing, type DeliveryTracing } from './tracing.ts'
import { registerUpgradeGuard } from './upgrade-guard.ts'
import { openWebSocketSession, releaseUpgradeRequest } from './ws-transport.ts'

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
    tidings: { principal: Principal; resume: ResumePoint } | null
  }
  interface FastifyContextConfig {
    /** @fastify/cors reads it: false turns CORS off for the route. */
    cors?: false
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
  const hub = new Hub(pod)
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

  await app.register(websocket, {
    options: {
      maxPayload: config.socket.maxFrameBytes,
      perMessageDeflate: false,
      ...closeAndPongLimits(config),
      handleProtocols: (protocols) => selectSubprotocol(protocols),
      // we track sockets ourselves (hub.ts); ws's own Set would be a second copy
      clientTracking: false,
    },
    // a failure inside our handler: close with 1011 rather than leaving the socket hanging
    errorHandler: (err, socket) => {
      log.error({ err }, 'websocket handler failed')
      socket.close(HANDLER_FAILED.code, HANDLER_FAILED.reason)
    },
    preClose: (done) => done(),
  })
  // after the plugin: its onRequest hook marks upgrades (req.ws), its onResponse hook destroys them
  registerUpgradeGuard(app)

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

  // For the WebSocket everything is checked before the upgrade: a refusal is an HTTP response,
  // never a socket.
  async function admit(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const principal = await authenticate(req, reply, { limit: 'connect' })
    req.tidings = {
      principal,
      resume: parseResumeQuery(req.query as Record<string, unknown>, 'lastSeq', { requireEpoch: true }),
    }
  }

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

  app.route({
    method: 'GET',
    url: WS_PATH,
    // CORS does not apply to a WebSocket handshake (browsers send Origin, checked in admit):
    // the plugin's hook would only add headers to a 101 nobody reads, on every connect
    config: { cors: false },
    preValidation: async (req, reply) => {
      if (!req.ws) throw new NOT_WEBSOCKET()
      await admit(req, reply)
      hub.checkCapacity()
    },
    handler: async () => {
      throw new NOT_WEBSOCKET()
    },
    wsHandler: (socket: WebSocket, req: FastifyRequest) => {
      const { principal, resume } = req.tidings!
      // Nothing of the upgrade request may stay reachable from the socket: @fastify/websocket's
      // error listener closes over request and reply, and the response stays attached to the
      // TCP socket. The session installs a lighter error listener.
      socket.removeAllListeners('error')
      releaseUpgradeRequest(req.raw)
      req.tidings = null
      openWebSocketSession(socket, hub, principal, resume, pod.onSocketError)
    },
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

// Options of ws 8.23 that @types/ws does not know yet.
function closeAndPongLimits(config: GatewayConfig): object {
  return {
    // A client that never answers our close frame is dropped this soon (ws waits 30 s).
    closeTimeout: config.socket.closeTimeoutMs,
    // Pongs queued for a client that does not read: ws terminates the socket past this.
    maxPendingAutoPongs: 8,
  }
}
