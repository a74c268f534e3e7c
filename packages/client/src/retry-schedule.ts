// When the next connection attempt happens: the counters behind the reconnect delay (consecutive
// failures, 4001s in a row, the server's `reconnect` hint, how long the last session lived) and
// the `maxRetries` budget.
import { type ClosePolicy, type ResolvedBackoff, reconnectDelay } from './backoff.ts'
import type { Clock } from './clock.ts'
import { RetryBudget } from './give-up.ts'

export class RetrySchedule {
  /** Consecutive failed attempts (0-based exponent of the backoff). */
  attempt = 0
  private unauthorizedStreak = 0
  private hintMs: number | undefined
  private openedAt: number | undefined
  private readonly budget: RetryBudget
  private readonly backoff: ResolvedBackoff
  private readonly clock: Clock
  private readonly random: () => number

  constructor(backoff: ResolvedBackoff, maxRetries: number | undefined, clock: Clock, random: () => number) {
    this.backoff = backoff
    this.budget = new RetryBudget(maxRetries)
    this.clock = clock
    this.random = random
  }

  /** Failed attempts counted against `maxRetries` since the last session opened. */
  get failures(): number {
    return this.budget.attempts
  }

  /** A session opened (`welcome`): the budget and the 4001 streak start over. */
  opened(): void {
    this.openedAt = this.clock.now()
    this.budget.opened()
    this.unauthorizedStreak = 0
  }

  /** The connection was replaced or stopped on purpose: its lifetime does not count. */
  dropped(): void {
    this.openedAt = undefined
  }

  /** The server said `reconnect {afterMs}`: the next delay is that. */
  hint(afterMs: number): void {
    this.hintMs = afterMs
  }

  /** An attempt starts: a hint from an earlier connection no longer applies. */
  starting(): void {
    this.hintMs = undefined
  }

  /** The connection closed with `policy`. A session that lived `resetAfterMs` resets the backoff. */
  closed(policy: ClosePolicy): void {
    const lived = this.openedAt === undefined ? -1 : this.clock.now() - this.openedAt
    this.openedAt = undefined
    if (lived >= this.backoff.resetAfterMs) this.attempt = 0
    if (policy === 'reauth') this.unauthorizedStreak++
  }

  /**
   * An attempt failed (or a session ended): the delay before the next one, or undefined when
   * `maxRetries` is used up. Failures while `offline` are free.
   */
  next(policy: ClosePolicy, offline: boolean): number | undefined {
    if (this.budget.failed(offline)) return undefined
    const { attempt, hintMs, unauthorizedStreak } = this
    const delayMs = reconnectDelay({ policy, attempt, hintMs, unauthorizedStreak }, this.backoff, this.random)
    this.hintMs = undefined
    this.attempt++
    return delayMs
  }
}
