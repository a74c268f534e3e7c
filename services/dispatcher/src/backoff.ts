// Waiting between retries of a failed Redis write or DLQ produce.
import { setTimeout as sleep } from 'node:timers/promises'

export interface BackoffOptions {
  initialMs: number
  maxMs: number
}

/**
 * Exponential backoff for the n-th consecutive failure (n >= 1): initial, 2×, 4×… capped at max,
 * minus up to 20 % jitter so that dispatchers stalled by the same outage do not retry in lockstep.
 */
export function backoffDelay(failures: number, { initialMs, maxMs }: BackoffOptions): number {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30))
  return Math.round(exp * (1 - Math.random() * 0.2))
}

/** Sleeps, or returns early when `signal` aborts (a shutdown must not wait out a 5 s backoff). */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  try {
    await sleep(ms, undefined, { signal })
  } catch {
    // aborted: the caller checks why and bails out
  }
}
