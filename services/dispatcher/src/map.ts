// From a validated event to the notification a user (or a broadcast topic) receives. The result
// is a DTO built field by field: nothing of the domain event reaches a client unless listed here.
import { hash } from 'node:crypto'
import { LOAN_DECISION_KIND, type LoanDecisionData, type Notification } from '@tidings/contracts'
import type { DecodedEvent } from './decode.ts'
import { type Result, reject } from './reasons.ts'
import { MAPPED_DECISIONS, renderLoanDecision, resolveLocale } from './templates.ts'

/** What the dispatcher writes to Redis for one event. */
export type Delivery =
  | { target: 'user'; userId: string; dedupeId: string; notification: Notification }
  | { target: 'topic'; topic: string; dedupeId: string; notification: Notification }

/**
 * Maps one event read from `sourceTopic`. The dedupe id is `<sourceTopic>:<eventId>`, so the same
 * event id on two topics is two events, and a redelivered one is recognised within the window.
 */
export function toDelivery(decoded: DecodedEvent, sourceTopic: string): Result<Delivery> {
  const dedupeId = `${sourceTopic}:${decoded.event.eventId}`
  const createdAt = canonicalInstant(decoded.event.occurredAt)

  if (decoded.type === 'loan.decision') {
    const e = decoded.event
    const amount = e.amount ? { value: e.amount.value, currency: e.amount.currency } : undefined
    const text = renderLoanDecision(e.decision, resolveLocale(e.locale), { loanId: e.loanId, amount })
    if (!text) {
      return reject(
        'unmapped',
        `decision ${JSON.stringify(e.decision)} has no template (known: ${MAPPED_DECISIONS.join(', ')})`,
      )
    }
    // the whitelist of docs/protocol.md §2.2: loanId, decision, and amount only when there is one
    const data: LoanDecisionData = { loanId: e.loanId, decision: e.decision }
    if (amount) data.amount = amount
    return {
      ok: true,
      value: {
        target: 'user',
        userId: e.borrowerId,
        dedupeId,
        notification: {
          id: notificationId(sourceTopic, e.eventId, { userId: e.borrowerId }),
          kind: LOAN_DECISION_KIND,
          createdAt,
          title: text.title,
          body: text.body,
          data: { ...data },
        },
      },
    }
  }

  const e = decoded.event
  const base = { kind: e.kind, createdAt, title: e.title, body: e.body, data: e.data ?? {} }
  // validateNotificationRequested guarantees exactly one of userId / topic
  if (e.userId !== undefined) {
    return {
      ok: true,
      value: {
        target: 'user',
        userId: e.userId,
        dedupeId,
        notification: { id: notificationId(sourceTopic, e.eventId, { userId: e.userId }), ...base },
      },
    }
  }
  const topic = e.topic as string
  return {
    ok: true,
    value: {
      target: 'topic',
      topic,
      dedupeId,
      notification: { id: notificationId(sourceTopic, e.eventId, { topic }), ...base },
    },
  }
}

// Already what toISOString() would give (UTC, milliseconds, a day that every month has): kept as it
// is, which saves a Date and a new string per event. Anything else is normalised through a Date.
const CANONICAL_INSTANT =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/

/** An occurredAt (validated: a real instant) as the ISO 8601 UTC text a notification carries. */
export function canonicalInstant(occurredAt: string): string {
  return CANONICAL_INSTANT.test(occurredAt) ? occurredAt : new Date(occurredAt).toISOString()
}

/**
 * Stable for the same (source topic, event id, recipient): clients dedupe on it across redeliveries
 * and replays. 22 base64url characters = 132 bits of a SHA-256: collisions are not a concern.
 */
export function notificationId(
  sourceTopic: string,
  eventId: string,
  recipient: { userId: string } | { topic: string },
): string {
  // JSON of an array keeps the three parts unambiguous whatever characters the event id has
  const who = 'userId' in recipient ? ['user', recipient.userId] : ['topic', recipient.topic]
  // crypto.hash: one call, no Hash object (about half the time of createHash().update().digest())
  return hash('sha256', JSON.stringify([sourceTopic, eventId, ...who]), 'base64url').slice(0, 22)
}
