// App-level pings (`ping()`): the round trip of each, answered in order by `pong` frames.
import type { Clock } from './clock.ts'
import { TidingsError } from './errors.ts'
import type { Transport } from './transport.ts'

type Pending = { resolve: (ms: number) => void; reject: (e: unknown) => void; sentAt: number }

export interface PendingPings {
  /** Sends a `ping` on `transport`; resolves with the round trip in ms when its `pong` arrives. */
  send(transport: Transport): Promise<number>
  /** A `pong` arrived: the oldest ping is answered. */
  pong(): void
  /** The connection closed: no pong will come. */
  cancel(reason: string): void
}

export function createPendingPings(clock: Clock): PendingPings {
  let waiting: Pending[] = []
  return {
    send(transport) {
      const sentAt = clock.now()
      if (!transport.send({ type: 'ping' })) {
        return Promise.reject(new TidingsError('transport', 'ping could not be sent'))
      }
      return new Promise<number>((resolve, reject) => waiting.push({ resolve, reject, sentAt }))
    },
    pong() {
      const p = waiting.shift()
      p?.resolve(clock.now() - p.sentAt)
    },
    cancel(reason) {
      if (waiting.length === 0) return
      const error = new TidingsError('transport', `connection closed: ${reason}`)
      for (const p of waiting) p.reject(error)
      waiting = []
    },
  }
}
