import { type Static, Type } from '@sinclair/typebox'
import { Timestamp, TopicName, UserId } from './ids.ts'

/** Default Kafka topic names (each is configurable in the dispatcher). */
export const TOPICS = {
  loanDecisions: 'loan.decisions',
  notificationsRequested: 'notifications.requested',
  deadLetter: 'notifications.dlq',
} as const

/** CloudEvents `type` values accepted on each topic. */
export const CLOUDEVENT_TYPES = {
  loanDecision: 'loan.decision',
  notificationRequested: 'notification.requested',
} as const

/** The longest event id (and so CloudEvents `id`) accepted: it is part of every dedupe key. */
export const EVENT_ID_MAX_LENGTH = 200

const EventId = Type.String({ minLength: 1, maxLength: EVENT_ID_MAX_LENGTH })

export const LOCALES = ['en', 'bn'] as const
export type Locale = (typeof LOCALES)[number]

/** The decisions the product knows today; the set grows by adding a template in the dispatcher. */
export const LOAN_DECISIONS = ['APPROVED', 'REJECTED', 'NEEDS_INFO', 'DISBURSED'] as const
export type LoanDecision = (typeof LOAN_DECISIONS)[number]

export const Money = Type.Object({
  value: Type.Number(),
  currency: Type.String({ pattern: '^[A-Z]{3}$' }),
})
export type Money = Static<typeof Money>

/**
 * `loan.decisions` value. `decision` is any non-empty string here on purpose: a value the
 * dispatcher has no template for is an `unmapped` dead letter, not a schema failure.
 * Unknown extra fields are allowed and ignored (never forwarded).
 */
export const LoanDecisionEvent = Type.Object({
  eventId: EventId,
  occurredAt: Timestamp,
  borrowerId: UserId,
  loanId: Type.String({ minLength: 1, maxLength: 128 }),
  decision: Type.String({ minLength: 1, maxLength: 64 }),
  amount: Type.Optional(Type.Union([Money, Type.Null()])),
  reasonCode: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
  // anything but a known locale falls back to English, so only the type is checked
  locale: Type.Optional(Type.Union([Type.String({ maxLength: 35 }), Type.Null()])),
})
export type LoanDecisionEvent = Static<typeof LoanDecisionEvent>

/**
 * `notifications.requested` value: exactly one of `userId` (one user, kept in the inbox) or
 * `topic` (a live broadcast). The "exactly one" rule is checked by `validateEvent`, because a
 * JSON-schema `oneOf` gives poor error messages.
 */
export const NotificationRequestedEvent = Type.Object({
  eventId: EventId,
  occurredAt: Timestamp,
  userId: Type.Optional(UserId),
  topic: Type.Optional(TopicName),
  kind: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' }),
  title: Type.String({ minLength: 1, maxLength: 256 }),
  body: Type.String({ maxLength: 4096 }),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})
export type NotificationRequestedEvent = Static<typeof NotificationRequestedEvent>
