import { TidingsError } from './errors.ts'
import type { ClientFrame, ServerFrame } from './wire.ts'

export type TransportKind = 'websocket' | 'sse'

/** How a transport ended. SSE HTTP statuses are mapped onto the WebSocket close codes. */
export interface CloseInfo {
  code: number
  reason: string
  /** The socket opened / the SSE response was 200 before it ended. */
  opened: boolean
  /** SSE only: no HTTP response at all (network down, DNS, CORS). */
  network?: boolean
  /** SSE only: this environment cannot stream a fetch() body. */
  unsupported?: boolean
  /** Abandoned by the client: no `welcome` within `connectTimeoutMs`. */
  timedOut?: boolean
}

export interface TransportEvents {
  open(): void
  frame(frame: ServerFrame, eventId?: string): void
  /** Anything arrived (a frame, an SSE comment): feeds the watchdog. */
  activity(): void
  error(error: TidingsError): void
  close(info: CloseInfo): void
}

export interface Transport {
  readonly kind: TransportKind
  /** Sends a frame; false when this transport cannot (not open, or SSE which is receive-only). */
  send(frame: ClientFrame): boolean
  /** Stops the transport silently: no `close` event follows. */
  close(reason: string): void
}

/** Parses one JSON frame; `fallbackType` is the SSE `event:` name. */
export function parseFrame(text: string, fallbackType?: string): ServerFrame | TidingsError {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    return new TidingsError('transport', 'received a frame that is not JSON', { cause })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return new TidingsError('transport', 'received a frame that is not a JSON object')
  }
  const o = value as Record<string, unknown>
  if (typeof o.type !== 'string') {
    if (!fallbackType) return new TidingsError('transport', 'received a frame without a type')
    o.type = fallbackType
  }
  return o as unknown as ServerFrame
}
