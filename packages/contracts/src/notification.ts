/** What a user receives: a DTO built by the dispatcher, never a raw domain event. */
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

/** `data` of a `loan.decision` notification: whitelisted fields only. */
export interface LoanDecisionData {
  loanId: string
  decision: string
  amount?: { value: number; currency: string }
}

export const LOAN_DECISION_KIND = 'loan.decision'
