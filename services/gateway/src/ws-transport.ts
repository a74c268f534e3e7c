import type { ResumePoint } from '@tidings/delivery'
import type { WebSocket } from 'ws'
import type { Principal } from './auth/token-verifier.ts'
import type { SessionClose } from './close-reasons.ts'
import type { Hub } from './hub.ts'
import type { Session } from './session.ts'
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
  close(why: SessionClose): void {
    this.ws.close(why.code, why.reason)
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
  this[SESSION]?.pong()
}
function onClose(this: SocketWithSession): void {
  this[SESSION]?.disconnected()
}
// Ping control frames count against the session's frame rate limit like any frame; ws answers
// them itself (autoPong) and terminates a client that lets pongs pile up (maxPendingAutoPongs).
function onPing(this: SocketWithSession): void {
  this[SESSION]?.receivePing()
}
const ignore = (): void => {}

/**
 * Asks the hub for a session on an upgraded socket; listeners are attached before anything is
 * awaited. A refused socket (draining, pod full) is closed by the hub and only counted until it
 * is gone.
 */
export function openWebSocketSession(
  ws: WebSocket,
  hub: Hub,
  principal: Principal,
  resume: ResumePoint,
  onError: (err: Error) => void,
): void {
  const session = hub.open(new WebSocketTransport(ws), principal, resume)
  if (!session) {
    ws.on('error', ignore)
    ws.once('close', () => hub.disconnected(null))
    return
  }
  const s = ws as SocketWithSession
  s[SESSION] = session
  ws.on('message', onMessage)
  ws.on('pong', onPong)
  ws.on('ping', onPing)
  ws.on('close', onClose)
  ws.on('error', onError)
}
