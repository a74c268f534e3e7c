// The gateway's admin port: /healthz, /readyz and /metrics on ADMIN_PORT, apart from the public
// WebSocket port, so that neither probes nor metrics are reachable through the Ingress and a flood of
// sockets on the public port cannot starve a probe (the server shape is shared with the dispatcher).
//
// What readiness means. A gateway is ready when it is not draining. Redis is reported in the body
// (`"redis": false`) but does not fail readiness, on purpose: every gateway shares the same Redis,
// so a Redis blip would fail every pod's probe in the same period, the Service would lose all its
// endpoints at once, and every client would be sent into a reconnect storm against nothing — the
// load balancer answers 503 to all of them, and some (Envoy-based) close the upgraded connections of
// removed endpoints. No pod is better placed than another, so taking them out helps nobody. Left in,
// open sockets stay open and are repaired from the inbox once Redis is back (pub/sub resync), and a
// new handshake during the blip fails fast and the client retries with jittered backoff.

import { pingRedis, type RedisClient } from '@tidings/delivery'
import { createHealthServer, type HealthServer, type Logger, type Readiness } from '@tidings/runtime'
import type { Gateway } from './app.ts'
import { openApiDocument } from './openapi.ts'

export async function gatewayReadiness(draining: boolean, redis: RedisClient): Promise<Readiness> {
  const redisOk = await pingRedis(redis)
  return { ready: !draining, checks: { draining, redis: redisOk } }
}

/** Starts the admin server; resolves with it and the port it bound (ADMIN_PORT may be 0). */
export async function startAdminServer(
  gateway: Gateway,
  logger: Logger,
  port: number,
  host: string,
): Promise<{ server: HealthServer; port: number }> {
  const server = createHealthServer({
    registry: gateway.pod.metrics.registry,
    readiness: () => gateway.readiness(),
    // the HTTP API's OpenAPI 3.1 document, generated from the route schemas (openapi.ts)
    documents: { '/openapi.json': () => openApiDocument(gateway.app) },
    logger,
  })
  return { server, port: await server.listen(port, host) }
}
