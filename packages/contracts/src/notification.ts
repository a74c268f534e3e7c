import { type Static, Type } from '@sinclair/typebox'
import { Timestamp } from './ids.ts'

/**
 * What a user receives: a DTO built by the dispatcher, never a raw domain event. A schema (not just a
 * type) so that docs/schemas/notification.json lets apps in other languages validate it; extra fields
 * are allowed, because a client must ignore fields a newer gateway adds.
 */
export const Notification = Type.Object({
  /** Stable for the same event and user, so clients can dedupe. */
  id: Type.String({ minLength: 1 }),
  kind: Type.String({ minLength: 1 }),
  /** ISO-8601 UTC. */
  createdAt: Timestamp,
  title: Type.String(),
  body: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
})
export type Notification = Static<typeof Notification>

/** `data` of a `loan.decision` notification: whitelisted fields only. */
export interface LoanDecisionData {
  loanId: string
  decision: string
  amount?: { value: number; currency: string }
}

export const LOAN_DECISION_KIND = 'loan.decision'
