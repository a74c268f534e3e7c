// The push hand-off (docs/protocol.md §"Push hand-off"): what the dispatcher produces to PUSH_TOPIC
// when a notification should wake the borrower's phone through FCM/APNs. Tidings owns no device
// tokens: a push sender consumes these and calls the platform. The inbox stays the source of truth;
// the push is a wake-up.
import { type Static, Type } from '@sinclair/typebox'
import { TopicName, UserId } from './ids.ts'

export const PUSH_REASONS = ['offline', 'unacked', 'broadcast'] as const
export type PushReason = (typeof PUSH_REASONS)[number]

export const PushRequest = Type.Object({
  /** The borrower to wake (absent for a broadcast). Also the Kafka key. */
  userId: Type.Optional(UserId),
  /** The broadcast topic (absent for a user's notification). */
  topic: Type.Optional(TopicName),
  /** The notification's id: a push sender dedupes on it (a second request for one id can happen). */
  notificationId: Type.String({ minLength: 1 }),
  /** The notification's seq in the user's inbox (absent for a broadcast). */
  seq: Type.Optional(Type.Integer({ minimum: 1 })),
  kind: Type.String(),
  /** Localised, ready to show on the lock screen. */
  title: Type.String(),
  body: Type.String(),
  /** The notification's data (e.g. loanId) for the app to route to the right screen. */
  data: Type.Record(Type.String(), Type.Unknown()),
  /** A later push with the same key replaces an earlier one on the lock screen (FCM collapse_key, APNs apns-collapse-id). */
  collapseKey: Type.String({ minLength: 1, maxLength: 64 }),
  /** How long the push is worth delivering: what is left of the inbox's lifetime for it. */
  ttlSeconds: Type.Integer({ minimum: 0 }),
  /** `offline`: no live session when written; `unacked`: not acked within PUSH_AFTER_MS; `broadcast`. */
  reason: Type.Union(PUSH_REASONS.map((r) => Type.Literal(r))),
  /** The notification's createdAt. */
  createdAt: Type.String(),
  /** W3C trace context of the event, when tracing is on. */
  traceparent: Type.Optional(Type.String()),
})
export type PushRequest = Static<typeof PushRequest>

/** loan.decision notifications collapse per loan; everything else per kind. */
export function collapseKeyOf(kind: string, data: Record<string, unknown>): string {
  const loanId = data.loanId
  const key = typeof loanId === 'string' && loanId.length > 0 ? `loan:${loanId}` : kind
  return key.slice(0, 64)
}
