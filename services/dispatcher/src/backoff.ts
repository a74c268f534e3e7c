// Waiting between retries of a failed Redis write or DLQ produce.

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
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  // the global timer rather than timers/promises: node:test's mock timers can drive it
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', wake)
      resolve()
    }
    const timer = setTimeout(wake, ms)
    signal.addEventListener('abort', wake, { once: true })
  })
}

/**
 * Sleeps like `pause`, in slices of `everyMs`, calling `beat` after each: a consumer group member that
 * waits longer than its session timeout without a heartbeat is evicted and its partitions move, though
 * it is alive and retrying (RETRY_MAX_MS may exceed KAFKA_SESSION_TIMEOUT_MS). Returns early when
 * `signal` aborts or `letGo()` says so; `beat`'s errors (a rebalance) reach the caller.
 */
export async function pauseHeartbeating(
  ms: number,
  signal: AbortSignal,
  everyMs: number,
  beat: () => Promise<void>,
  letGo: () => boolean,
): Promise<void> {
  const until = Date.now() + ms
  for (let left = ms; left > 0 && !signal.aborted && !letGo(); left = until - Date.now()) {
    await pause(Math.min(left, everyMs), signal)
    if (signal.aborted || letGo()) return
    await beat()
  }
}
