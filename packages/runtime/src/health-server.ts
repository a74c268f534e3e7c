// The admin port of both services: liveness, readiness and metrics for the orchestrator and
// Prometheus, on a port of its own so that neither probes nor /metrics are reachable through the
// public listener (the gateway's WebSocket port). No framework: a few GET routes do not need one.
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'

export interface Readiness {
  ready: boolean
  checks: Record<string, boolean>
}

export interface HealthServerDeps {
  registry: Registry
  /** Resolves quickly (the caller bounds its own checks). */
  readiness: () => Promise<Readiness>
  /** Runs before each /metrics answer (bounded by the caller; must not reject). */
  beforeScrape?: () => Promise<void>
  /** Further JSON documents by path (the gateway's `/openapi.json`): the admin side, not the public one. */
  documents?: Record<string, () => unknown>
  logger: Logger
}

export interface HealthServer {
  /** Resolves with the port actually bound (useful with port 0). */
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
}

/** One answer of the admin endpoints, for any HTTP server to send (with `cache-control: no-store`). */
export interface HealthAnswer {
  status: number
  contentType: string
  body: string
  /** Set on a 405: the methods the endpoints answer. */
  allow?: string
}

/**
 * What /healthz, /readyz, /metrics (and the extra documents) answer: the one implementation behind
 * createHealthServer, and for a service that serves them on a listener of its own framework (the
 * gateway without ADMIN_PORT) so that both ports answer alike.
 */
export async function healthAnswer(
  method: string | undefined,
  url: string | undefined,
  deps: Omit<HealthServerDeps, 'logger'>,
): Promise<HealthAnswer> {
  const path = (url ?? '/').split('?')[0]
  if (method !== 'GET' && method !== 'HEAD') {
    return { status: 405, contentType: 'text/plain', body: 'method not allowed\n', allow: 'GET, HEAD' }
  }
  if (path === '/healthz') return { status: 200, contentType: 'application/json', body: '{"status":"ok"}\n' }
  if (path === '/readyz') {
    const r = await deps.readiness()
    const body = JSON.stringify({ status: r.ready ? 'ready' : 'not ready', ...r.checks })
    return { status: r.ready ? 200 : 503, contentType: 'application/json', body: `${body}\n` }
  }
  if (path === '/metrics') {
    await deps.beforeScrape?.()
    return { status: 200, contentType: deps.registry.contentType, body: await deps.registry.metrics() }
  }
  const document = path === undefined ? undefined : deps.documents?.[path]
  if (document)
    return { status: 200, contentType: 'application/json', body: `${JSON.stringify(document())}\n` }
  return { status: 404, contentType: 'text/plain', body: 'not found\n' }
}

export function createHealthServer(deps: HealthServerDeps): HealthServer {
  const server = createServer((req, res) => {
    healthAnswer(req.method, req.url, deps)
      .then((answer) => send(res, answer))
      .catch((err: unknown) => {
        deps.logger.error({ err, url: req.url }, 'health endpoint failed')
        if (!res.headersSent) send(res, { status: 500, contentType: 'text/plain', body: 'internal error\n' })
        else res.destroy()
      })
  })
  // Probes and scrapes are short: an idle keep-alive socket must not hold a shutdown.
  server.keepAliveTimeout = 5000

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve((server.address() as AddressInfo).port)
        })
      })
    },
    close() {
      if (!server.listening) return Promise.resolve()
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
    },
  }
}

function send(res: ServerResponse, answer: HealthAnswer): void {
  if (answer.allow) res.setHeader('allow', answer.allow)
  res.writeHead(answer.status, { 'content-type': answer.contentType, 'cache-control': 'no-store' })
  res.end(res.req.method === 'HEAD' ? undefined : answer.body)
}
