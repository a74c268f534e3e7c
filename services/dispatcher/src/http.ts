// The dispatcher's only HTTP surface: liveness, readiness and metrics for the orchestrator and
// Prometheus. No framework: three GET routes do not need one.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger, Registry } from '@tidings/runtime'

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
  logger: Logger
}

export interface HealthServer {
  /** Resolves with the port actually bound (useful with port 0). */
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
}

export function createHealthServer(deps: HealthServerDeps): HealthServer {
  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      deps.logger.error({ err, url: req.url }, 'health endpoint failed')
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n')
      else res.destroy()
    })
  })
  // Probes and scrapes are short: an idle keep-alive socket must not hold a shutdown.
  server.keepAliveTimeout = 5000

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return send(res, 405, 'text/plain', 'method not allowed\n')
    }
    if (path === '/healthz') return send(res, 200, 'application/json', '{"status":"ok"}\n')
    if (path === '/readyz') {
      const r = await deps.readiness()
      const body = JSON.stringify({ status: r.ready ? 'ready' : 'not ready', ...r.checks })
      return send(res, r.ready ? 200 : 503, 'application/json', `${body}\n`)
    }
    if (path === '/metrics') {
      await deps.beforeScrape?.()
      return send(res, 200, deps.registry.contentType, await deps.registry.metrics())
    }
    return send(res, 404, 'text/plain', 'not found\n')
  }

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

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}
