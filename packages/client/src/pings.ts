// App-level pings (`ping()`): the round trip of each, answered in order by `pong` frames.
import type { Clock } from './clock.ts'
import { TidingsError } from './errors.ts'
import type { Transport } from './transport.ts'

type Pending = { resolve: (ms: number) => void; reject: (e: unknown) => void; sentAt: number }

export class PendingPings {
  private waiting: Pending[] = []
  private readonly clock: Clock

  constructor(clock: Clock) {
    this.clock = clock
  }

  /** Sends a `ping` on `transport`; resolves with the round trip in ms when its `pong` arrives. */
  send(transport: Transport): Promise<number> {
    const sentAt = this.clock.now()
    if (!transport.send({ type: 'ping' })) {
      return Promise.reject(new TidingsError('transport', 'ping could not be sent'))
    }
    return new Promise<number>((resolve, reject) => this.waiting.push({ resolve, reject, sentAt }))
  }

  /** A `pong` arrived: the oldest ping is answered. */
  pong(): void {
    const p = this.waiting.shift()
    p?.resolve(this.clock.now() - p.sentAt)
  }

  /** The connection closed: no pong will come. */
  cancel(reason: string): void {
    if (this.waiting.length === 0) return
    const error = new TidingsError('transport', `connection closed: ${reason}`)
    for (const p of this.waiting) p.reject(error)
    this.waiting = []
  }
}
