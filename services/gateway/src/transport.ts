import type { ServerFrame } from '@tidings/contracts'
import type { SessionClose } from './close-reasons.ts'

/**
 * How a session reaches its client: a WebSocket, or a Server-Sent Events stream. The session
 * decides what to send and in which order; a transport only knows how.
 */
export interface Transport {
  /** `ws` or `sse`: a label of the connection metrics and delivery spans. */
  readonly kind: 'ws' | 'sse'
  /** A notification frame (JSON text, as stored in the inbox) and its seq/epoch. */
  notification(frame: Buffer | string, seq: number, epoch: string): void
  /** A broadcast frame (JSON text). */
  broadcast(frame: Buffer): void
  /** Any other frame, already serialised. */
  control(type: ServerFrame['type'], json: string): void
  /** Ends the connection. WebSocket: this close code; SSE: its HTTP refusal, or a `close` event. */
  close(why: SessionClose): void
  /** Bytes accepted but not yet written to the network: a slow reader's backlog. */
  readonly backlog: number
  /** The peer is gone (the heartbeat sweep releases such a session if no close event did). */
  readonly gone: boolean
  /** Whether heartbeat() is answered (WebSocket pong): then a silent peer is terminated. */
  readonly answersPings: boolean
  /** Heartbeat: a WebSocket ping, an SSE comment. */
  heartbeat(): void
  /** Drops the connection at once (a peer that stopped answering). */
  terminate(): void
}
