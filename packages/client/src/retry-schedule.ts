// When the next connection attempt happens: the counters behind the reconnect delay (consecutive
// failures, 4001s in a row, the server's `reconnect` hint, how long the last session lived) and
// the `maxRetries` budget.
import { type ClosePolicy, type ResolvedBackoff, reconnectDelay } from './backoff.ts'
import type { Clock } from './clock.ts'
import { RetryBudget } from './give-up.ts'

export interface RetrySchedule {
  /** Consecutive failed attempts (0-based exponent of the backoff). */
  readonly attempt: number
  /** Failed attempts counted against `maxRetries` since the last session opened (or connect()). */
  readonly failures: number
  /** The backoff starts over (the network came back). */
  restart(): void
  /** connect() after a stop (close(), gave up, revoked): the backoff and the `maxRetries` budget start over. */
  begin(): void
  /** A session opened (`welcome`): the budget and the 4001 streak start over. */
  opened(): void
  /** The connection was replaced or stopped on purpose: its lifetime does not count. */
  dropped(): void
  /** The server said `reconnect {afterMs}`: the next delay is that. */
  hint(afterMs: number): void
  /** An attempt starts: a hint from an earlier connection no longer applies. */
  starting(): void
  /** The connection closed with `policy`. A session that lived `resetAfterMs` resets the backoff. */
  closed(policy: ClosePolicy): void
  /**
   * An attempt failed (or a session ended): the delay before the next one, or undefined when
   * `maxRetries` is used up. Failures while `offline` are free.
   */
  next(policy: ClosePolicy, offline: boolean): number | undefined
}

export function createRetrySchedule(
  backoff: ResolvedBackoff,
  maxRetries: number | undefined,
  clock: Clock,
  random: () => number,
): RetrySchedule {
  const budget = new RetryBudget(maxRetries)
  let attempt = 0
  let unauthorizedStreak = 0
  let hintMs: number | undefined
  let openedAt: number | undefined

  return {
    get attempt() {
      return attempt
    },
    get failures() {
      return budget.attempts
    },
    restart() {
      attempt = 0
    },
    begin() {
      attempt = 0
      // as after a welcome: the failures of an earlier run (before close() or giving up) do not count
      budget.opened()
    },
    opened() {
      openedAt = clock.now()
      budget.opened()
      unauthorizedStreak = 0
    },
    dropped() {
      openedAt = undefined
    },
    hint(afterMs) {
      hintMs = afterMs
    },
    starting() {
      hintMs = undefined
    },
    closed(policy) {
      const lived = openedAt === undefined ? -1 : clock.now() - openedAt
      openedAt = undefined
      if (lived >= backoff.resetAfterMs) attempt = 0
      if (policy === 'reauth') unauthorizedStreak++
    },
    next(policy, offline) {
      if (budget.failed(offline)) return undefined
      const delayMs = reconnectDelay({ policy, attempt, hintMs, unauthorizedStreak }, backoff, random)
      hintMs = undefined
      attempt++
      return delayMs
    },
  }
}
