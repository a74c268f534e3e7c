// The heartbeat watchdog: after one heartbeat without any frame it asks for a pong, after two it
// declares the connection dead. Re-armed on every frame, so it allocates nothing per arm.
import type { Clock, TimerHandle } from './clock.ts'

export class Watchdog {
  private timer: TimerHandle | undefined
  private heartbeatMs = 0
  private readonly clock: Clock
  private readonly ping: () => void
  private readonly dead: (silentMs: number) => void
  private readonly onFirstSilence = (): void => {
    this.ping()
    this.timer = this.clock.setTimeout(this.onSecondSilence, this.heartbeatMs)
  }
  private readonly onSecondSilence = (): void => {
    this.timer = undefined
    this.dead(2 * this.heartbeatMs)
  }

  /** `ping` after one silent heartbeat; `dead(silentMs)` after two. */
  constructor(clock: Clock, ping: () => void, dead: (silentMs: number) => void) {
    this.clock = clock
    this.ping = ping
    this.dead = dead
  }

  /** Something arrived: start counting silence again. A heartbeat of 0 (or none) disarms it. */
  arm(heartbeatMs: number): void {
    this.stop()
    if (!(heartbeatMs > 0)) return
    this.heartbeatMs = heartbeatMs
    this.timer = this.clock.setTimeout(this.onFirstSilence, heartbeatMs)
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }
}
