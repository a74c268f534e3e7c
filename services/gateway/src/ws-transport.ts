import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { ResumePoint } from '@tidings/delivery'
import type { WebSocket } from 'ws'
import type { Principal } from './auth/token-verifier.ts'
import type { PodContext } from './pod.ts'
import { Session } from './session.ts'
import type { Transport } from './transport.ts'

const SEND_TEXT = { binary: false } as const
const OPEN = 1
const CLOSED = 3
const SESSION = Symbol('tidings.session')

type SocketWithSession = WebSocket & { [SESSION]?: Session }

/**
 * Every frame is text, sent as is: notifications arrive serialised once per pod. A class, not an
 * object of closures: tens of thousands of these share one prototype.
 */
class WebSocketTransport implements Transport {
  readonly ws: WebSocket
  readonly answersPings = true
  // on the prototype, not a field: nothing more per socket
  get kind(): 'ws' {
    return 'ws'
  }
  constructor(ws: WebSocket) {
    this.ws = ws
  }
  notification(frame: Buffer | string): void {
    if (this.ws.readyState === OPEN) this.ws.send(frame, SEND_TEXT)
  }
  broadcast(frame: Buffer): void {
    if (this.ws.readyState === OPEN) this.ws.send(frame, SEND_TEXT)
  }
  control(_type: string, json: string): void {
    if (this.ws.readyState === OPEN) this.ws.send(json, SEND_TEXT)
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }
  get gone(): boolean {
    return this.ws.readyState === CLOSED
  }
  get backlog(): number {
    return this.ws.bufferedAmount
  }
  heartbeat(): void {
    this.ws.ping()
  }
  terminate(): void {
    this.ws.terminate()
  }
}

// Listeners shared by every socket (found through a symbol), not four closures per socket.
function onMessage(this: SocketWithSession, data: Buffer, isBinary: boolean): void {
  this[SESSION]?.receive(data, isBinary)
}
function onPong(this: SocketWithSession): void {
  const s = this[SESSION]
  if (s) s.alive = true
}
function onClose(this: SocketWithSession): void {
  const s = this[SESSION]
  if (!s) return
  s.pod.openSockets--
  s.cleanup()
}
// Ping control frames count against the session's frame rate limit like any frame; ws answers
// them itself (autoPong) and terminates a client that lets pongs pile up (maxPendingAutoPongs).
function onPing(this: SocketWithSession): void {
  this[SESSION]?.receivePing()
}

/**
 * The upgrade's HTTP request and response must not outlive the handshake: the response stays
 * attached to the TCP socket (`_httpMessage`), and through its listeners it keeps Fastify's
 * request, reply and raw headers (with the bearer token) alive as long as the socket — about
 * 3 KiB per socket (test/bench/RESULTS.md).
 */
export function releaseUpgradeRequest(raw: { socket: Socket | null }): void {
  const socket = raw.socket as (Socket & { _httpMessage?: ServerResponse | null }) | null
  socket?._httpMessage?.detachSocket(socket)
}

/** Starts a session on an upgraded socket; listeners are attached before anything is awaited. */
export function startWebSocketSession(
  ws: WebSocket,
  id: string,
  principal: Principal,
  pod: PodContext,
  resume: ResumePoint,
): Session {
  const session = new Session(new WebSocketTransport(ws), id, principal, pod, resume)
  const s = ws as SocketWithSession
  s[SESSION] = session
  ws.on('message', onMessage)
  ws.on('pong', onPong)
  ws.on('ping', onPing)
  ws.on('close', onClose)
  ws.on('error', pod.onSocketError)
  return session
}
