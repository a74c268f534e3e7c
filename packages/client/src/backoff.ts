import { CloseCode } from './wire.ts'

export interface BackoffOptions {
  /** First ceiling, doubled per failed attempt. Default 500 ms. */
  baseMs?: number
  /** Largest ceiling. Default 30 000 ms. */
  capMs?: number
  /**
   * Ceiling for "back off longer" (1013, 4008, 4029 and client-bug closes): the delay is drawn
   * from [ceiling/2, ceiling] with ceiling = min(slowCapMs, slowBaseMs·2^attempt). Defaults 5 000 / 300 000 ms.
   */
  slowBaseMs?: number
  slowCapMs?: number
  /** A session that lived this long resets the attempt counter. Default 10 000 ms. */
  resetAfterMs?: number
}
export type ResolvedBackoff = Required<BackoffOptions>

export const DEFAULT_BACKOFF: ResolvedBackoff = {
  baseMs: 500,
  capMs: 30_000,
  slowBaseMs: 5_000,
  slowCapMs: 300_000,
  resetAfterMs: 10_000,
}

const unit = (random: () => number): number => {
  const r = random()
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0
}

/** min(cap, base·2^attempt), safe for huge attempts and a zero base. */
export function ceiling(attempt: number, baseMs: number, capMs: number): number {
  const exp = Math.min(Math.max(Math.floor(attempt), 0), 60)
  return Math.max(0, Math.min(capMs, baseMs * 2 ** exp))
}

/** "Full jitter": uniform in [0, min(cap, base·2^attempt)]. */
export function fullJitter(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(unit(random) * ceiling(attempt, baseMs, capMs))
}

/** "Equal jitter": uniform in [c/2, c] with c = min(cap, base·2^attempt); never (close to) zero. */
export function equalJitter(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const c = ceiling(attempt, baseMs, capMs)
  return Math.floor(c / 2 + unit(random) * (c / 2))
}

/** How the client reacts to a close code. */
export type ClosePolicy =
  /** normal exponential backoff with full jitter */
  | 'backoff'
  /** 1013 / 4008 / 4029: back off longer */
  | 'slow'
  /** 1012: wait for the delay the server hinted in `reconnect` */
  | 'hinted'
  /** 4001: fetch a fresh token, then reconnect */
  | 'reauth'
  /** 1003/1007/1008/1009: surface an error, reconnect with the slow backoff (never spin) */
  | 'client_bug'
  /** 4003: the user's sessions were revoked; never reconnect with this token: stop */
  | 'revoked'

export function closePolicy(code: number): ClosePolicy {
  switch (code) {
    case CloseCode.ServiceRestart:
      return 'hinted'
    case CloseCode.TryAgainLater:
    case CloseCode.RateLimited:
    case CloseCode.TooManySessions:
      return 'slow'
    case CloseCode.Unauthorized:
      return 'reauth'
    case CloseCode.Revoked:
      return 'revoked'
    case CloseCode.UnsupportedData:
    case CloseCode.InvalidPayload:
    case CloseCode.PolicyViolation:
    case CloseCode.MessageTooBig:
      return 'client_bug'
    default:
      return 'backoff'
  }
}

export interface DelayInput {
  policy: ClosePolicy
  /** consecutive failed attempts before this one (0 for the first retry) */
  attempt: number
  /** `reconnect.afterMs` from the server, if one arrived on this connection */
  hintMs: number | undefined
  /** consecutive 4001 closes, this one included */
  unauthorizedStreak: number
}

/** The delay before the next attempt. Pure: everything it depends on is passed in. */
export function reconnectDelay(input: DelayInput, opts: ResolvedBackoff, random: () => number): number {
  const { policy, attempt, hintMs } = input
  // A hint is honoured whatever the close code (the close frame itself may be lost).
  if (hintMs !== undefined && Number.isFinite(hintMs)) return Math.min(Math.max(0, hintMs), opts.slowCapMs)
  switch (policy) {
    case 'slow':
    case 'client_bug':
      return equalJitter(attempt, opts.slowBaseMs, opts.slowCapMs, random)
    case 'reauth':
      // The first rejection is usually just an expired token: retry at once with a fresh one.
      return input.unauthorizedStreak <= 1 ? 0 : fullJitter(attempt, opts.baseMs, opts.capMs, random)
    default:
      return fullJitter(attempt, opts.baseMs, opts.capMs, random)
  }
}
