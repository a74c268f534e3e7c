// The wire protocol as the SDK sees it (docs/protocol.md §3-4, §11). These declarations mirror
// `@tidings/contracts` on purpose instead of importing from it: the published SDK must not
// reference a private workspace package in its `.d.ts`, nor pull in its runtime dependency
// (TypeBox). `wire.test.ts` proves both stay in step: every server frame that contracts
// describes is accepted here, every client frame built here satisfies contracts, and the
// constants are equal.

export const PROTOCOL_VERSION = 1
/** Subprotocol offered together with `bearer.<jwt>`; the server selects it. */
export const SUBPROTOCOL = 'tidings.v1'
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.'
export const WS_PATH = '/v1/ws'
export const SSE_PATH = '/v1/sse'
export const ACK_PATH = '/v1/inbox/ack'
/** Broadcast topic names the gateway accepts (`subscribe` with anything else is a `bad_request`). */
export const TOPIC_PATTERN = '^[A-Za-z0-9._-]{1,64}$'

/** WebSocket close codes used by the gateway. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** a binary frame (client bug) */
  UnsupportedData: 1003,
  /** a frame that is not JSON (client bug) */
  InvalidPayload: 1007,
  /** repeated protocol violations (client bug) */
  PolicyViolation: 1008,
  /** a frame over the size limit (client bug) */
  MessageTooBig: 1009,
  /** server restart, after a `reconnect` frame */
  ServiceRestart: 1012,
  /** pod full, or the client reads too slowly */
  TryAgainLater: 1013,
  /** token expired or invalid, or `auth` with a different `sub` */
  Unauthorized: 4001,
  /** the user's sessions were revoked (logout, account locked): the client stops */
  Revoked: 4003,
  RateLimited: 4008,
  TooManySessions: 4029,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** Codes of recoverable `error` frames. */
export const ErrorCode = {
  UnknownType: 'unknown_type',
  BadRequest: 'bad_request',
  ForbiddenTopic: 'forbidden_topic',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** What a user receives. */
export interface Notification {
  /** Stable for the same event and user, so clients can dedupe. */
  id: string
  kind: string
  /** ISO-8601 UTC. */
  createdAt: string
  title: string
  body: string
  data: Record<string, unknown>
}

// ---- server → client ----
export interface WelcomeFrame {
  type: 'welcome'
  sessionId: string
  userId: string
  epoch: string
  heartbeatMs: number
  protocol: number
}
export interface MissedFrame {
  type: 'missed'
  afterSeq: number
  nextSeq: number
  epoch: string
}
export interface NotificationFrame extends Notification {
  type: 'notification'
  seq: number
}
export interface BroadcastFrame extends Omit<Notification, 'kind'> {
  type: 'broadcast'
  topic: string
}
export interface SubscribedFrame {
  type: 'subscribed' | 'unsubscribed'
  topic: string
}
export interface ReauthFrame {
  type: 'reauth'
  expiresAt: string
}
export interface AuthenticatedFrame {
  type: 'authenticated'
  expiresAt: string
}
export interface PongFrame {
  type: 'pong'
}
export interface ErrorFrame {
  type: 'error'
  /** One of {@link ErrorCode}; kept open so a newer gateway's codes still type-check. */
  code: ErrorCode | (string & {})
  message: string
}
export interface ReconnectFrame {
  type: 'reconnect'
  afterMs: number
}
export type ServerFrame =
  | WelcomeFrame
  | MissedFrame
  | NotificationFrame
  | BroadcastFrame
  | SubscribedFrame
  | ReauthFrame
  | AuthenticatedFrame
  | PongFrame
  | ErrorFrame
  | ReconnectFrame

// ---- client → server ----
export interface AckFrame {
  type: 'ack'
  seq: number
  /** The epoch `seq` belongs to: the server ignores an ack of another epoch. */
  epoch?: string
}
export interface TopicFrame {
  type: 'subscribe' | 'unsubscribe'
  topic: string
}
export interface AuthFrame {
  type: 'auth'
  token: string
}
export interface PingFrame {
  type: 'ping'
}
export type ClientFrame = AckFrame | TopicFrame | AuthFrame | PingFrame
