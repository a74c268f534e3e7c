import { type Static, Type } from '@sinclair/typebox'
import { Epoch, TopicName } from './ids.ts'
import type { Notification } from './notification.ts'

export const PROTOCOL_VERSION = 1
/** Subprotocol a browser offers (with `bearer.<jwt>`); the server selects it. */
export const SUBPROTOCOL = 'tidings.v1'
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.'
export const WS_PATH = '/v1/ws'

/** Close codes, exactly as in the protocol. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** a binary frame */
  UnsupportedData: 1003,
  /** a frame that is not JSON */
  InvalidPayload: 1007,
  /** repeated protocol violations */
  PolicyViolation: 1008,
  /** a frame over the size limit */
  MessageTooBig: 1009,
  /** server restart, after a `reconnect` frame */
  ServiceRestart: 1012,
  /** pod full, or the client reads too slowly */
  TryAgainLater: 1013,
  /** token expired (30 s after `exp` without a fresh `auth`) or invalid, or a different `sub` */
  Unauthorized: 4001,
  /** the user's sessions were revoked (logout, account locked): do not reconnect with this token */
  Revoked: 4003,
  /** frames (pings included) faster than the rate limit, or too many queued behind a handler */
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

// ---- server → client ----
export interface WelcomeFrame {
  type: 'welcome'
  sessionId: string
  userId: string
  epoch: string
  heartbeatMs: number
  protocol: typeof PROTOCOL_VERSION
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
  code: ErrorCode
  message: string
}
export interface ReconnectFrame {
  type: 'reconnect'
  afterMs: number
}
/**
 * SSE only: the last event of a stream the server ends (`event: close`), carrying what a
 * WebSocket close frame would (4003 revoked, 4001 expired, 1012 restart, 1013 slow reader…).
 */
export interface SseCloseFrame {
  type: 'close'
  code: CloseCode
  reason: string
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

// ---- client → server (schemas: the gateway validates every frame with them) ----
/** `epoch` (optional, an extension): the epoch `seq` belongs to; an ack of another epoch is ignored. */
export const AckFrame = Type.Object({
  type: Type.Literal('ack'),
  seq: Type.Integer({ minimum: 0 }),
  epoch: Type.Optional(Epoch),
})
export const TopicFrame = Type.Object({
  type: Type.Union([Type.Literal('subscribe'), Type.Literal('unsubscribe')]),
  topic: TopicName,
})
export const AuthFrame = Type.Object({
  type: Type.Literal('auth'),
  token: Type.String({ minLength: 1, maxLength: 8192 }),
})
export const PingFrame = Type.Object({ type: Type.Literal('ping') })
export type AckFrame = Static<typeof AckFrame>
export type TopicFrame = Static<typeof TopicFrame>
export type AuthFrame = Static<typeof AuthFrame>
export type PingFrame = Static<typeof PingFrame>
export type ClientFrame = AckFrame | TopicFrame | AuthFrame | PingFrame

/** Body of `POST /v1/inbox/ack` and the reply of `GET /v1/inbox`. */
export interface InboxResponse {
  epoch: string
  notifications: Array<Notification & { seq: number }>
  missed?: { afterSeq: number; nextSeq: number; epoch: string }
  /** More notifications follow this page: pass this as the next `afterSeq` (same epoch). */
  nextAfterSeq?: number
}
