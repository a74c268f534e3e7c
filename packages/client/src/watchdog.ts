// The heartbeat watchdog: after one heartbeat without any frame it asks for a pong, after two it
// declares the connection dead. Re-armed on every frame, so arming allocates nothing.
import type { Clock, TimerHandle } from './clock.ts'

export interface Watchdog {
  /** Something arrived: start counting silence again. A heartbeat of 0 (or none) disarms it. */
  arm(heartbeatMs: number): void
  stop(): void
}

/** `ping` after one silent heartbeat; `dead(silentMs)` after two. */
export function createWatchdog(clock: Clock, ping: () => void, dead: (silentMs: number) => void): Watchdog {
  let timer: TimerHandle | undefined
  let heartbeatMs = 0
  const onSecondSilence = (): void => {
    timer = undefined
    dead(2 * heartbeatMs)
  }
  const onFirstSilence = (): void => {
    ping()
    timer = clock.setTimeout(onSecondSilence, heartbeatMs)
  }
  const stop = (): void => {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
  }
  return {
    arm(ms) {
      stop()
      if (!(ms > 0)) return
      heartbeatMs = ms
      timer = clock.setTimeout(onFirstSilence, ms)
    },
    stop,
  }
}
