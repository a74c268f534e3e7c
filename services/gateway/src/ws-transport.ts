import type { ResumePoint } from '@tidings/delivery'
import type { WebSocket } from 'ws'
import type { Principal } from './auth/token-verifier.ts'
import type { PodContext } from './pod.ts'
import { Session } from './session.ts'
import type { Transport } from './transport.ts'

const SEND_TEXT = { binary: false } as const
const OPEN = 1

/** Every frame is text, sent as is: notifications arrive serialised once per pod. */
function webSocketTransport(ws: WebSocket): Transport {
  const send = (frame: Buffer | string) => {
    if (ws.readyState === OPEN) ws.send(frame, SEND_TEXT)
  }
  return {
    notification: send,
    broadcast: send,
    control: (_type, json) => send(json),
    close: (code, reason) => ws.close(code, reason),
    get backlog() {
      return ws.bufferedAmount
    },
    answersPings: true,
    heartbeat: () => ws.ping(),
    terminate: () => ws.terminate(),
  }
}

/** Starts a session on an upgraded socket; listeners are attached before anything is awaited. */
export function startWebSocketSession(
  ws: WebSocket,
  id: string,
  principal: Principal,
  pod: PodContext,
  resume: ResumePoint,
): Session {
  const session = new Session(webSocketTransport(ws), id, principal, pod, resume)
  ws.on('message', (data: Buffer, isBinary: boolean) => session.receive(data, isBinary))
  ws.on('pong', () => {
    session.alive = true
  })
  ws.on('close', () => session.cleanup())
  ws.on('error', (err) => pod.log.debug({ err, sessionId: id }, 'socket error'))
  return session
}
