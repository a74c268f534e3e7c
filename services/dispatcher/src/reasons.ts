// The codes a dead letter carries in its `tidings-error` header. Operators filter and alert on
// them, so they are part of the contract: add new ones, never rename.

export const DEAD_LETTER_REASONS = {
  /** The value is missing (a tombstone), not UTF-8, or not JSON. */
  invalid_json: 'the value is empty, not UTF-8 or not JSON',
  /** A CloudEvents envelope that breaks the spec: wrong specversion, missing id/source/type, non-JSON data. */
  invalid_cloudevent: 'a CloudEvents envelope that is not valid CloudEvents 1.0 JSON',
  /** A CloudEvents `type` that does not belong on this topic. */
  unexpected_type: 'the CloudEvents type does not match the topic',
  /** The event does not match the topic's schema; the message names the field. */
  invalid_schema: 'the event does not match its schema',
  /** A loan decision the dispatcher has no template for. */
  unmapped: 'a loan decision without a notification template',
  /** The value is bigger than MAX_EVENT_BYTES. */
  too_large: 'the value is bigger than MAX_EVENT_BYTES',
  /** Redis refused to store the notification and would refuse it again (e.g. WRONGTYPE on the user's keys). */
  store_rejected: 'Redis permanently refused the notification',
  /** The dispatcher failed on this event (a bug): parked instead of stalling the partition. */
  internal_error: 'the dispatcher failed to process the event',
} as const

export type DeadLetterReason = keyof typeof DEAD_LETTER_REASONS

export const DEAD_LETTER_REASON_CODES = Object.keys(DEAD_LETTER_REASONS) as DeadLetterReason[]

/** Why an event cannot become a notification. */
export interface Rejection {
  ok: false
  reason: DeadLetterReason
  message: string
}

export const reject = (reason: DeadLetterReason, message: string): Rejection => ({
  ok: false,
  reason,
  message,
})

/** A value, or the reason there is none. */
export type Result<T> = { ok: true; value: T } | Rejection
