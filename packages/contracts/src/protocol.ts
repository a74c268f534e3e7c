import { type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox'
import { Epoch, Timestamp, TopicName, UserId } from './ids.ts'
import { Notification } from './notification.ts'

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
// Schemas (not only types) so that docs/schemas/*.json describe them for apps in other languages.
// Extra fields are allowed: a client must ignore the fields a newer gateway adds.
const Seq = Type.Integer({ minimum: 1 })
export const WelcomeFrame = Type.Object({
  type: Type.Literal('welcome'),
  sessionId: Type.String({ minLength: 1 }),
  userId: UserId,
  epoch: Epoch,
  heartbeatMs: Type.Integer({ minimum: 1 }),
  protocol: Type.Literal(PROTOCOL_VERSION),
})
/** Everything in (afterSeq, nextSeq) of `epoch` is gone: refetch state. */
export const MissedFrame = Type.Object({
  type: Type.Literal('missed'),
  afterSeq: Type.Integer({ minimum: 0 }),
  nextSeq: Seq,
  epoch: Epoch,
})
export const NotificationFrame = Type.Composite([
  Type.Object({ type: Type.Literal('notification'), seq: Seq }),
  Notification,
])
export const BroadcastFrame = Type.Composite([
  Type.Object({ type: Type.Literal('broadcast'), topic: TopicName }),
  Type.Omit(Notification, ['kind']),
])
export const SubscribedFrame = Type.Object({
  type: Type.Union([Type.Literal('subscribed'), Type.Literal('unsubscribed')]),
  topic: TopicName,
})
export const ReauthFrame = Type.Object({ type: Type.Literal('reauth'), expiresAt: Timestamp })
export const AuthenticatedFrame = Type.Object({ type: Type.Literal('authenticated'), expiresAt: Timestamp })
export const PongFrame = Type.Object({ type: Type.Literal('pong') })
export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.Union(Object.values(ErrorCode).map((c) => Type.Literal(c))) as TUnion<TLiteral<ErrorCode>[]>,
  message: Type.String(),
})
export const ReconnectFrame = Type.Object({
  type: Type.Literal('reconnect'),
  afterMs: Type.Integer({ minimum: 0 }),
})
export const ServerFrame = Type.Union([
  WelcomeFrame,
  MissedFrame,
  NotificationFrame,
  BroadcastFrame,
  SubscribedFrame,
  ReauthFrame,
  AuthenticatedFrame,
  PongFrame,
  ErrorFrame,
  ReconnectFrame,
])
export type WelcomeFrame = Static<typeof WelcomeFrame>
export type MissedFrame = Static<typeof MissedFrame>
export type NotificationFrame = Static<typeof NotificationFrame>
export type BroadcastFrame = Static<typeof BroadcastFrame>
export type SubscribedFrame = Static<typeof SubscribedFrame>
export type ReauthFrame = Static<typeof ReauthFrame>
export type AuthenticatedFrame = Static<typeof AuthenticatedFrame>
export type PongFrame = Static<typeof PongFrame>
export type ErrorFrame = Static<typeof ErrorFrame>
export type ReconnectFrame = Static<typeof ReconnectFrame>
export type ServerFrame = Static<typeof ServerFrame>
/**
 * SSE only: the last event of a stream the server ends (`event: close`), carrying what a
 * WebSocket close frame would (4003 revoked, 4001 expired, 1012 restart, 1013 slow reader…).
 */
export const SseCloseFrame = Type.Object({
  type: Type.Literal('close'),
  code: Type.Union(Object.values(CloseCode).map((c) => Type.Literal(c))) as TUnion<TLiteral<CloseCode>[]>,
  reason: Type.String(),
})
export type SseCloseFrame = Static<typeof SseCloseFrame>

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
export const ClientFrame = Type.Union([AckFrame, TopicFrame, AuthFrame, PingFrame])
export type ClientFrame = AckFrame | TopicFrame | AuthFrame | PingFrame

// ---- HTTP fallbacks ----
/** Body of `POST /v1/inbox/ack` (as the WebSocket `ack`, without `type`). */
export const InboxAckRequest = Type.Object(
  { seq: Type.Integer({ minimum: 0 }), epoch: Type.Optional(Epoch) },
  { additionalProperties: false },
)
export type InboxAckRequest = Static<typeof InboxAckRequest>
/** Reply of `GET /v1/inbox`: the notifications after `afterSeq`, and `missed` as on the WebSocket. */
export const InboxResponse = Type.Object({
  epoch: Epoch,
  notifications: Type.Array(Type.Composite([Type.Object({ seq: Seq }), Notification])),
  missed: Type.Optional(Type.Omit(MissedFrame, ['type'])),
  /** More notifications follow this page: pass this as the next `afterSeq` (same epoch). */
  nextAfterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
})
export type InboxResponse = Static<typeof InboxResponse>

/** Every HTTP error of the gateway (and its 404): `code` is a stable `TDG_ERR_*`, `message` is for humans. */
export const HttpErrorBody = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  code: Type.String({ pattern: '^TDG_ERR_[A-Z0-9_]+$' }),
  message: Type.String(),
})
export type HttpErrorBody = Static<typeof HttpErrorBody>
/** Reply of `GET /v1/presence/:userId` (service credential): live WebSocket and SSE sessions on all pods. */
export const PresenceResponse = Type.Object({
  online: Type.Boolean(),
  sessions: Type.Integer({ minimum: 0 }),
})
export type PresenceResponse = Static<typeof PresenceResponse>
/** `GET /healthz` / `GET /readyz`: `ok`, `ready`, `draining`, `redis unavailable`. */
export const HealthResponse = Type.Object({ status: Type.String() })
export type HealthResponse = Static<typeof HealthResponse>
