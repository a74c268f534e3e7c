import { TidingsError } from './errors.ts'
import { parseFrame, type Transport, type TransportEvents } from './transport.ts'
import { BEARER_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from './wire.ts'

// Handlers are declared with method syntax so they are checked bivariantly: the DOM WebSocket,
// the `ws` package and React Native's WebSocket all fit without casts.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack']

/** The part of the WHATWG WebSocket the SDK uses. */
export interface WebSocketLike {
  readonly readyState: number
  readonly protocol: string
  onopen: Handler<unknown> | null
  onmessage: Handler<{ data: unknown }> | null
  onerror: Handler<unknown> | null
  onclose: Handler<{ code: number; reason: string }> | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

const OPEN = 1

export function openWebSocket(
  Ctor: WebSocketConstructor,
  url: string,
  token: string,
  ev: TransportEvents,
): Transport {
  let opened = false
  let done = false
  const ws = new Ctor(url, [SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + token])

  const detach = (): void => {
    done = true
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null
  }

  ws.onopen = () => {
    if (done) return
    opened = true
    ev.open()
  }
  ws.onmessage = (msg) => {
    if (done) return
    ev.activity()
    if (typeof msg.data !== 'string') {
      ev.error(new TidingsError('transport', 'received a binary frame; the protocol only uses text'))
      return
    }
    const frame = parseFrame(msg.data)
    if (frame instanceof TidingsError) ev.error(frame)
    else ev.frame(frame)
  }
  ws.onerror = () => {
    // A `close` event follows; it carries the information.
  }
  ws.onclose = (e) => {
    if (done) return
    detach()
    ev.close({ code: e.code, reason: e.reason, opened })
  }

  return {
    kind: 'websocket',
    send(frame) {
      if (done || ws.readyState !== OPEN) return false
      try {
        ws.send(JSON.stringify(frame))
        return true
      } catch {
        return false
      }
    },
    close(reason) {
      if (done) return
      detach()
      try {
        ws.close(1000, reason.slice(0, 120))
      } catch {
        // already closing
      }
    },
  }
}
