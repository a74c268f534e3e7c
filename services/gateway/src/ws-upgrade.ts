import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { parse as parseQuery } from 'node:querystring'
import proxyAddr from '@fastify/proxy-addr'
import { WS_PATH } from '@tidings/contracts'
import type { ResumePoint } from '@tidings/delivery'
import { redactUrl, tracingEnabled } from '@tidings/runtime'
import type { FastifyInstance } from 'fastify'
import { WebSocketServer } from 'ws'
import { selectSubprotocol } from './auth/handshake.ts'
import type { Principal } from './auth/token-verifier.ts'
import { HANDLER_FAILED } from './close-reasons.ts'
import type { GatewayConfig } from './config.ts'
import { INTERNAL, UPGRADE_REFUSED } from './errors.ts'
import { type HandshakeSpan, startHandshakeSpan } from './handshake-span.ts'
import type { Hub } from './hub.ts'
import type { PodContext } from './pod.ts'
import type { RequestAuthenticator, ResponseHeaders } from './request-auth.ts'
import { parseResumeQuery } from './resume.ts'
import { openWebSocketSession, type SessionSocket, sessionSocketClass } from './ws-transport.ts'

/**
 * The WebSocket handshake, answered on the HTTP server's `upgrade` event before Fastify sees it.
 *
 * Why not @fastify/websocket: it sends every upgrade through Fastify's whole request cycle (a
 * Request, a Reply, a child logger, a ServerResponse built for the socket, the route's hooks)
 * only to hand the socket to the same `ws` server in the end. On the connect path, which a
 * reconnect storm runs tens of thousands of times a second across a fleet, that cycle was ~10 %
 * of a connect's CPU (test/bench/RESULTS.md, 2026-12-07). The checks are the ones every other endpoint makes (request-auth.ts), and a refusal
 * is the same HTTP error as anywhere else, so nothing changes for a client.
 *
 * Upgrades that are not WebSocket ones (`Upgrade: h2c`…) are ordinary requests the client merely
 * offered to upgrade: Node hands them to Fastify as such (`upgradeOnlyWebSockets`).
 */
export function attachWebSocketUpgrade(
  app: FastifyInstance,
  pod: PodContext,
  hub: Hub,
  authenticate: RequestAuthenticator,
): WebSocketServer {
  const { config, log } = pod
  const traced = tracingEnabled()
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.socket.maxFrameBytes,
    perMessageDeflate: false,
    ...closeAndPongLimits(config),
    handleProtocols: (protocols) => selectSubprotocol(protocols),
    // we track sockets ourselves (hub.ts); ws's own Set would be a second copy
    clientTracking: false,
    WebSocket: sessionSocketClass(pod.onSocketError),
  })
  // the client IP (per-IP rate limits) comes from X-Forwarded-For only through trusted hops,
  // exactly as Fastify's own `request.ip` (app.ts `trustProxy`)
  const trusted = (_address: string, hop: number) => hop < config.trustProxyHops
  const clientIp = (req: IncomingMessage): string => {
    const addrs = proxyAddr.all(req, trusted)
    return addrs[addrs.length - 1] ?? ''
  }

  async function admit(req: IncomingMessage, search: string | undefined, headers: RetryHeaders) {
    const query = search === undefined ? {} : parseQuery(search)
    const principal = await authenticate({ headers: req.headers, ip: clientIp(req) }, headers, {
      limit: 'connect',
    })
    const resume = parseResumeQuery(query, 'lastSeq', { requireEpoch: true })
    hub.checkCapacity()
    return { principal, resume }
  }

  function open(ws: SessionSocket, principal: Principal, resume: ResumePoint): void {
    try {
      openWebSocketSession(ws, hub, principal, resume)
    } catch (err) {
      // a failure of ours: close with 1011 rather than leave the socket hanging
      log.error({ err }, 'websocket handler failed')
      ws.close(HANDLER_FAILED.code, HANDLER_FAILED.reason)
    }
  }

  app.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // Node removed its own error listener before emitting 'upgrade': until ws installs its own,
    // an error (the client went away during the checks) must not be an uncaught exception
    socket.on('error', destroyOnError)
    // A client that pipelined the upgrade behind a request: Node emits it while that request's
    // answer still holds the socket. Answered after it, in order (a response assigned to the socket
    // now would throw out of this listener, a refusal written now would come first).
    const pending = (socket as SocketWithResponse)._httpMessage
    if (pending) {
      pending.once('finish', () => onUpgrade(req, socket, head))
      return
    }
    onUpgrade(req, socket, head)
  })

  function onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer) {
    const url = req.url ?? ''
    const { path, search } = splitTarget(url)
    // (not a WebSocket upgrade: only on a Node without shouldUpgradeCallback, refused as before)
    if (!isWebSocketUpgrade(req) || path !== WS_PATH || req.method !== 'GET') {
      return refuse(socket, new UPGRADE_REFUSED(WS_PATH), undefined)
    }
    const headers = new RetryHeaders()
    const span: HandshakeSpan | undefined = traced ? startHandshakeSpan(req) : undefined
    const checks = span ? span.run(() => admit(req, search, headers)) : admit(req, search, headers)
    checks.then(
      ({ principal, resume }) => {
        socket.off('error', destroyOnError) // ws installs its own
        // ws destroys a socket the client closed meanwhile; the refused handshakes of
        // ws (a bad Sec-WebSocket-Key…) are its own plain-text 400s, as before
        let upgraded = false
        const upgrade = () =>
          wss.handleUpgrade(req, socket, head, (ws) => {
            upgraded = true
            open(ws, principal, resume)
          })
        if (!span) return upgrade()
        span.run(upgrade)
        span.end(upgraded ? 101 : undefined)
      },
      (err: unknown) => {
        let refusal = err as CodedError
        if (!isCodedError(err)) {
          log.error({ err, url: redactUrl(url) }, 'request failed')
          refusal = new INTERNAL()
        }
        refuse(socket, refusal, refusal === err ? headers.retryAfter : undefined)
        span?.end(refusal.statusCode)
      },
    )
  }
  return wss
}

/** `Upgrade: websocket` (the header's value is case-insensitive, RFC 6455 §4.2.1). */
function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === 'websocket'
}

/**
 * Node's HTTP server options (Fastify's `http`): only a WebSocket upgrade is an 'upgrade' event; any
 * other (`Upgrade: h2c` from `curl --http2`…) stays an ordinary request with its keep-alive, body and
 * pipelining. Node ≥ 24.9 reads it; an older one ignores it and those requests are refused.
 */
export const upgradeOnlyWebSockets = { shouldUpgradeCallback: isWebSocketUpgrade }

/** Node's own link from a socket to the response that is writing on it (null between requests). */
type SocketWithResponse = Socket & { _httpMessage?: ServerResponse | null }

// `http://host` or `https://host` before the path of an absolute-form request target
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i

/**
 * The request target's path and query as Fastify's router (find-my-way) reads them, so that an
 * upgrade reaches /v1/ws exactly when a route of that path would: the absolute-form
 * `GET http://host/v1/ws`, which a server must accept (RFC 9112 §3.2.2), and a path cut at `?` or `#`.
 */
function splitTarget(url: string): { path: string; search: string | undefined } {
  const target = url.charCodeAt(0) === 47 /* '/' */ ? url : url.replace(ABSOLUTE_FORM, '')
  const end = target.search(/[?#]/)
  return end === -1
    ? { path: target, search: undefined }
    : { path: target.slice(0, end), search: target.slice(end + 1) }
}

type CodedError = { statusCode: number; code: string; message: string }

/** One of errors.ts: anything else thrown during the checks is a failure of ours (500, logged). */
function isCodedError(err: unknown): err is CodedError {
  const e = err as Partial<CodedError> | null
  return typeof e?.statusCode === 'number' && typeof e.code === 'string' && e.code.startsWith('TDG_ERR_')
}

/** Collects the one header a refusal of the handshake may carry. */
class RetryHeaders implements ResponseHeaders {
  retryAfter: string | undefined
  header(name: string, value: string): this {
    if (name.toLowerCase() === 'retry-after') this.retryAfter = value
    return this
  }
}

function destroyOnError(this: Socket): void {
  this.destroy()
}

/** The same `{statusCode, code, message}` body as every other refusal of the gateway (app.ts). */
function refuse(socket: Socket, err: CodedError, retryAfter: string | undefined): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const { statusCode, code, message } = err
  const body = JSON.stringify({ statusCode, code, message })
  socket.once('finish', socket.destroy)
  socket.end(
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\n` +
      // as on every response of Fastify's (RFC 9110 §6.6.1: an origin server with a clock sends it)
      `date: ${new Date().toUTCString()}\r\n` +
      'connection: close\r\n' +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      (retryAfter === undefined ? '' : `retry-after: ${retryAfter}\r\n`) +
      `\r\n${body}`,
  )
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
