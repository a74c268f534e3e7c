// The borrower demo's web server: the page (public/), the SDK's build (packages/client/dist) under
// /sdk/ so that the browser imports it as a plain ES module (no bundler), /config.json (where the
// gateways are) and — DEMO ONLY — /token, which mints a user token for whoever asks.
//
// /token stands in for the app's real login (an identity provider issuing the JWT). It signs any
// borrower id with the gateways' HS256 secret, so it must never run next to a real deployment.
import { createHmac } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, realpath } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isUserId } from '@tidings/contracts'

export interface DemoServerOptions {
  /** 0 (default) = any free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Gateway base URLs (`http://host:port`); the page connects to them through the SDK's `urls`. */
  gatewayUrls: string[]
  /** The gateways' HS256 secret (JWT_SECRET), used by the demo-only /token. */
  jwtSecret: string
  /** The borrower the page shows when its URL has no `?borrower=` (default b-1042). */
  borrowerId?: string
  /** Lifetime of the tokens /token mints, in seconds (default 3600). */
  tokenTtlS?: number
}

export interface DemoServer {
  /** `http://host:port` — the page is at `${url}/` (add `?borrower=<id>` for another borrower). */
  url: string
  port: number
  close(): Promise<void>
}

const publicDir = fileURLToPath(new URL('../public/', import.meta.url))
/** The SDK as this package depends on it (workspace link to packages/client). */
const sdkDir = fileURLToPath(new URL('../node_modules/@tidings/client/dist/', import.meta.url))

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url')

/** An HS256 JWT with `sub` and `exp` (what the gateways require) — a demo shortcut, see above. */
export function mintDemoToken(secret: string, borrowerId: string, ttlS = 3600): string {
  const now = Math.floor(Date.now() / 1000)
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
  const payload = b64url(JSON.stringify({ sub: borrowerId, iat: now, exp: now + ttlS, demo: true }))
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')
  return `${header}.${payload}.${signature}`
}

export async function startDemoServer(opts: DemoServerOptions): Promise<DemoServer> {
  if (!existsSync(join(sdkDir, 'index.js'))) {
    throw new Error(
      `the SDK is not built (${join(sdkDir, 'index.js')} is missing): run pnpm --filter @tidings/client build`,
    )
  }
  if (opts.gatewayUrls.length === 0) throw new Error('gatewayUrls is empty')
  for (const g of opts.gatewayUrls) {
    if (!/^(https?|wss?):\/\/[^/?#]+(\/[^?#]*)?$/.test(g)) throw new Error(`not a gateway base URL: ${g}`)
  }
  const borrowerId = opts.borrowerId ?? 'b-1042'
  const tokenTtlS = opts.tokenTtlS ?? 3600
  const sdkRoot = await realpath(sdkDir)
  const config = JSON.stringify({ gatewayUrls: opts.gatewayUrls, borrowerId, demoTokenEndpoint: '/token' })

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
    res.end(body)
  }
  const sendFile = async (res: ServerResponse, root: string, rel: string): Promise<void> => {
    const file = join(root, rel)
    // no way out of the directory (`..`, encoded or not)
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep))
      return send(res, 404, 'text/plain', 'not found')
    try {
      const body = await readFile(file)
      send(res, 200, types[extname(file)] ?? 'application/octet-stream', body)
    } catch {
      send(res, 404, 'text/plain', 'not found')
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only')
    const url = new URL(req.url ?? '/', 'http://demo')
    let path: string
    try {
      path = decodeURIComponent(url.pathname)
    } catch {
      return send(res, 400, 'text/plain', 'bad path')
    }
    if (path === '/config.json') return send(res, 200, types['.json']!, config)
    if (path === '/token') {
      // DEMO SHORTCUT: anyone may get a token for any borrower. A real app gets it from its login.
      const who = url.searchParams.get('borrower') ?? borrowerId
      if (!isUserId(who)) return send(res, 400, 'text/plain', 'bad borrower id')
      const token = mintDemoToken(opts.jwtSecret, who, tokenTtlS)
      return send(res, 200, types['.json']!, JSON.stringify({ token, expiresInS: tokenTtlS, demo: true }))
    }
    if (path.startsWith('/sdk/')) return sendFile(res, sdkRoot, path.slice('/sdk/'.length))
    if (path === '/' || path === '/index.html') return sendFile(res, publicDir, 'index.html')
    return sendFile(res, publicDir, path.slice(1))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain', 'error')
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const host = opts.host ?? '127.0.0.1'
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
