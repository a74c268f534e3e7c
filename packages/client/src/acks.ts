import type { Clock, TimerHandle } from './clock.ts'
import { TidingsError } from './errors.ts'
import type { FetchLike } from './sse.ts'
import { ACK_PATH } from './wire.ts'

export interface AckOptions {
  /** Send an ack at most this long after a notification was handled. Default 1 000 ms. */
  intervalMs?: number
  /** …or as soon as this many notifications are waiting for one. Default 50. */
  maxBatch?: number
}

/**
 * Cumulative, batched acks. `handled(seq)` after the app's handler ran; `flush()` sends the
 * highest handled seq now. `send` returns false when it cannot send (no open connection): the seq
 * stays pending and the next flush retries it.
 */
export class AckBatcher {
  private pending = 0
  private acked = 0
  /** A seq to re-ack when the interval's timer fires, and only then (restoreSoon). */
  private deferred = 0
  private count = 0
  private timer: TimerHandle | undefined
  private readonly intervalMs: number
  private readonly maxBatch: number
  private readonly clock: Clock
  private readonly send: (seq: number) => boolean

  constructor(opts: AckOptions, clock: Clock, send: (seq: number) => boolean) {
    this.intervalMs = Math.max(0, opts.intervalMs ?? 1000)
    this.maxBatch = Math.max(1, opts.maxBatch ?? 50)
    this.clock = clock
    this.send = send
  }

  /** Highest seq waiting for an ack (0 = none). */
  get waiting(): number {
    return this.pending > this.acked ? this.pending : 0
  }

  handled(seq: number): void {
    if (seq <= this.pending) return
    this.pending = seq
    this.count++
    if (this.count >= this.maxBatch) this.flush()
    else if (this.timer === undefined)
      this.timer = this.clock.setTimeout(() => this.onTimer(), this.intervalMs)
  }

  /**
   * Re-acks `seq` (the stored position) when the interval's timer fires, never sooner: a flush()
   * before then (close(), flush(), a restart) leaves it out, and reset() drops it. A `missed` from 0
   * that follows `welcome` may arrive after app code ran on `open`, and acking the stored seq before
   * it is handled deletes the notifications that took reused seqs, for every device.
   */
  restoreSoon(seq: number): void {
    if (seq > this.deferred && seq > this.pending) this.deferred = seq
    if (this.deferred > 0 && this.timer === undefined)
      this.timer = this.clock.setTimeout(() => this.onTimer(), this.intervalMs)
  }

  flush(): void {
    // the timer stays while a deferred re-ack waits for it
    if (this.deferred === 0) this.cancelTimer()
    if (this.pending <= this.acked) return
    if (this.send(this.pending)) {
      this.acked = this.pending
      this.count = 0
    }
  }

  /** A new epoch: nothing handled so far is ackable any more. */
  reset(): void {
    this.cancelTimer()
    this.pending = 0
    this.acked = 0
    this.deferred = 0
    this.count = 0
  }

  /**
   * The connection changed: whatever was acked before may not have arrived, ack it again — at the
   * interval, like restoreSoon(), for the same reason: a `missed` from 0 may follow the `welcome`.
   */
  unconfirm(): void {
    if (this.pending > this.deferred) this.deferred = this.pending
    this.pending = 0
    this.acked = 0
    this.count = 0
  }

  dispose(): void {
    this.cancelTimer()
  }

  private onTimer(): void {
    this.timer = undefined
    if (this.deferred > this.pending) this.pending = this.deferred
    this.deferred = 0
    this.flush()
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }
}

/**
 * Acks over HTTP: `POST /v1/inbox/ack`, the way back for SSE (receive-only). Failures are reported,
 * never retried here: the batcher acks cumulatively, so the next ack covers this one.
 */
export class AckPoster {
  private readonly inFlight = new Set<Promise<void>>()
  private readonly fetchFn: FetchLike | undefined
  private readonly report: (error: TidingsError) => void

  constructor(fetchFn: FetchLike | undefined, report: (error: TidingsError) => void) {
    this.fetchFn = fetchFn
    this.report = report
  }

  /** Posts the ack to the gateway at `httpBase`; false when there is no `fetch`. */
  post(httpBase: string, token: string, seq: number, epoch: string): boolean {
    if (!this.fetchFn) return false
    const post = this.fetchFn(httpBase + ACK_PATH, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      // the epoch makes the server ignore an ack that belongs to a sequence it no longer has
      body: JSON.stringify({ seq, epoch }),
    }).then(
      (res) => {
        if (!res.ok)
          this.report(new TidingsError('transport', `POST ${ACK_PATH} answered HTTP ${res.status}`))
      },
      (cause: unknown) => this.report(new TidingsError('transport', `POST ${ACK_PATH} failed`, { cause })),
    )
    this.inFlight.add(post)
    void post.finally(() => this.inFlight.delete(post))
    return true
  }

  /** Settles when the posts in flight now have; undefined when there are none. */
  idle(): Promise<unknown> | undefined {
    return this.inFlight.size > 0 ? Promise.all(this.inFlight) : undefined
  }
}
