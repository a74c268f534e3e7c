// `maxRetries`: how many connection attempts in a row may fail before the client stops and says so
// with a typed error, instead of retrying forever (the default).
import { TidingsError } from './errors.ts'

/** The client stopped after `attempts` failed connection attempts in a row (`maxRetries` + 1). */
export class TidingsGaveUpError extends TidingsError {
  /** Connection attempts made since the last one that reached `welcome`. */
  readonly attempts: number
  /** The close code of the last failed attempt (1006 for network failures and timeouts). */
  readonly lastCloseCode: number

  constructor(attempts: number, lastCloseCode: number, lastReason: string) {
    super('gave_up', `gave up after ${attempts} failed connection attempts (last: ${lastReason})`, {
      closeCode: lastCloseCode,
    })
    this.attempts = attempts
    this.lastCloseCode = lastCloseCode
  }
}

/** Returns `maxRetries` if it is valid (undefined or an integer ≥ 0), else throws a TypeError. */
export function checkMaxRetries(maxRetries: number | undefined): number | undefined {
  if (maxRetries !== undefined && !(Number.isInteger(maxRetries) && maxRetries >= 0)) {
    throw new TypeError('maxRetries must be an integer ≥ 0')
  }
  return maxRetries
}

/** Counts failed attempts since the last `welcome`; attempts made while known to be offline are free. */
export class RetryBudget {
  private failures = 0
  private readonly maxRetries: number

  constructor(maxRetries: number | undefined) {
    this.maxRetries = checkMaxRetries(maxRetries) ?? Number.POSITIVE_INFINITY
  }

  /** A session opened (`welcome`): the count starts over. */
  opened(): void {
    this.failures = 0
  }

  /** An attempt failed; true when no retry is left. */
  failed(offline: boolean): boolean {
    if (!offline) this.failures++
    return this.failures > this.maxRetries
  }

  get attempts(): number {
    return this.failures
  }
}
