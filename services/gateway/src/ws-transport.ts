import type { ResumePoint } from '@tidings/delivery'
import { WebSocket } from 'ws'
import type { Principal } from './auth/token-verifier.ts'
import type { SessionClose } from './close-reasons.ts'
import type { Hub } from './hub.ts'
import type { Session } from './session.ts'
import type { Transport } from './transport.ts'

const SEND_TEXT = { binary: false } as const
const OPEN = 1
const CLOSED = 3

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

/**
 * ws's WebSocket with the session it serves (one class per pod: the pod's socket-error handler). ws
 * hands the events a session needs (message, ping, pong, close, error) straight to it from `emit`:
 * not five listeners per socket, which an EventEmitter keeps in a dictionary object of its own, plus
 * a property added to every socket after construction (issue 11: V8 heap per idle socket). Once a
 * session is attached, those events go to it alone ('close' to listeners too); other events, and every
 * event of a socket without a session (refused), go to listeners as usual.
 */
export function sessionSocketClass(onError: (err: Error) => void) {
  return class SessionSocket extends WebSocket {
    session: Session | null = null

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      const session = this.session
      if (session !== null) {
        switch (event) {
          case 'message':
            session.receive(args[0] as Buffer, args[1] as boolean)
            return true
          case 'pong':
            session.pong()
            return true
          // Ping control frames count against the session's frame rate limit like any frame; ws
          // answers them itself (autoPong) and terminates a client that lets pongs pile up.
          case 'ping':
            session.receivePing()
            return true
          case 'error':
            onError(args[0] as Error)
            return true
          case 'close':
            session.disconnected()
            break
        }
      }
      return super.emit(event, ...args)
    }
  }
}
export type SessionSocket = InstanceType<ReturnType<typeof sessionSocketClass>>

const ignore = (): void => {}

/**
 * Asks the hub for a session on an upgraded socket; the session gets the socket's events before
 * anything is awaited. A refused socket (draining, pod full) is closed by the hub and only counted
 * until it is gone.
 */
export function openWebSocketSession(
  ws: SessionSocket,
  hub: Hub,
  principal: Principal,
  resume: ResumePoint,
): void {
  const session = hub.open(new WebSocketTransport(ws), principal, resume)
  if (!session) {
    ws.on('error', ignore)
    ws.once('close', () => hub.disconnected(null))
    return
  }
  ws.session = session
}
