// What the client tells the app: its connection state, the live session and the events it emits.
import type { TidingsError } from './errors.ts'
import type { TransportKind } from './transport.ts'
import type { BroadcastFrame, NotificationFrame } from './wire.ts'

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface SessionInfo {
  /** The gateway base URL (from `url`/`urls`) this session is connected to. */
  url: string
  sessionId: string
  userId: string
  epoch: string
  heartbeatMs: number
  transport: TransportKind
}

export type StateEvent =
  | { state: 'connecting'; transport: TransportKind; attempt: number }
  | { state: 'open'; transport: TransportKind; session: SessionInfo }
  | { state: 'reconnecting'; attempt: number; delayMs: number; code: number; reason: string }
  | { state: 'closed'; reason: string }

export interface MissedEvent {
  /** Everything after this seq up to `nextSeq - 1` is gone (0 after an epoch change). */
  afterSeq: number
  nextSeq: number
  epoch: string
}

export interface TidingsEvents {
  notification: NotificationFrame
  broadcast: BroadcastFrame
  /** Notifications were lost: refetch the state the app cares about. */
  missed: MissedEvent
  state: StateEvent
  error: TidingsError
  /**
   * The server revoked the user's sessions (logout elsewhere, account locked; close 4003). The
   * client has stopped (state `closed`, reason `revoked`) and forgot its token: sign the user in
   * again, then call `connect()`.
   */
  revoked: TidingsError
}
