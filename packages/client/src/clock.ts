/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown

/** Time source and timers; injectable so backoff, ack batching and the watchdog are testable. */
export interface Clock {
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
  now(): number
}

export const systemClock: Clock = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
  now: () => Date.now(),
}
