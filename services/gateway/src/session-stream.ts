import type { ServerFrame } from '@tidings/contracts'
import { type InboxRead, isRevoked, type LiveNotification, type ResumePoint } from '@tidings/delivery'
import { redisErrorKind } from '@tidings/runtime'
import { Closes, type SessionClose } from './close-reasons.ts'
import { missedFrame, welcomeFrame } from './frames.ts'
import type { PodContext } from './pod.ts'
import type { Transport } from './transport.ts'

export const Phase = { Starting: 0, Live: 1, Resyncing: 2, Closed: 3 } as const
export type Phase = (typeof Phase)[keyof typeof Phase]
/** Resyncs in a row that did not move the cursor before the session gives up (1013). */
const MAX_FRUITLESS_RESYNCS = 3
// `inbound` until the session starts, and once it is idle: one shared promise, not one per session
export const SETTLED: Promise<void> = Promise.resolve()

/**
 * The ordered delivery half of a session (session.ts is the rest: admission, client frames,
 * topics, token, heartbeat). One object per connection: Session extends it.
 *
 * Order guarantee: the pod subscribes to the user's channel BEFORE reading the inbox, buffers
 * what arrives meanwhile, sends the replay, then drains the buffer dropping seqs already sent.
 * Live messages must then follow `cursor + 1` exactly in the session's epoch; anything else (a
 * gap after a Redis failover, a pub/sub message lost, a new epoch) re-reads the inbox from the
 * cursor, so the client never sees a seq twice or out of order within a session.
 */
export abstract class SessionStream<Pod extends PodContext = PodContext> {
  readonly id: string
  readonly userId: string
  protected readonly transport: Transport
  protected readonly pod: Pod
  /** The token's `iat` (ms): a revocation at or after it ends the session. */
  protected issuedAt: number | undefined
  protected epoch = ''
  protected phase: Phase = Phase.Starting
  #cursor = 0
  #pending: LiveNotification[] | null = null
  /** Consecutive resyncs that did not move the cursor: a gap the inbox cannot fill. */
  #fruitlessResyncs = 0
  /** Steps run one after another (inbox reads, inbound frames): an ack is done before the next frame. */
  protected inbound: Promise<void> = SETTLED

  constructor(transport: Transport, id: string, userId: string, issuedAt: number | undefined, pod: Pod) {
    this.transport = transport
    this.id = id
    this.userId = userId
    this.issuedAt = issuedAt
    this.pod = pod
  }

  abstract close(why: SessionClose): void

  // a method, not a field check, so TypeScript does not narrow it away across awaits
  get closed(): boolean {
    return this.phase === Phase.Closed
  }

  /**
   * The first inbox read, made once the user's channel is subscribed: welcome, replay, then live.
   * `revokedAt` is read in the same step: a revocation published between the handshake's check
   * and the subscription would otherwise be missed.
   */
  protected deliverFrom(read: InboxRead, revokedAt: number | undefined): void {
    const pod = this.pod
    if (this.closed) return
    if (isRevoked(this.issuedAt, revokedAt)) {
      this.close(Closes.Revoked)
      return
    }
    this.epoch = read.epoch
    this.control('welcome', welcomeFrame(this.id, this.userId, read.epoch, pod.config.socket.heartbeatMs))
    this.#replay(read.frames, read.firstSeq, read.missed, read.metas)
    pod.metrics.replayed.inc(read.frames.length)
    pod.metrics.replaySize.observe(read.frames.length)
  }

  /** Sends a replay then what arrived live meanwhile; leaves the session live. */
  #replay(
    frames: string[],
    firstSeq: number,
    missed: { afterSeq: number; nextSeq: number; epoch: string } | undefined,
    metas: InboxRead['metas'],
  ): void {
    if (missed) {
      this.control('missed', missedFrame(missed))
      this.pod.metrics.missed.inc()
    }
    const epoch = this.epoch
    for (let i = 0; i < frames.length; i++) {
      if (this.closed || this.overloaded()) return
      this.transport.notification(frames[i]!, firstSeq + i, epoch)
      this.pod.tracing.delivered(metas[i], 'replay', firstSeq + i, this.transport.kind)
    }
    this.#cursor = firstSeq + frames.length - 1
    this.phase = Phase.Live
    const pending = this.#pending
    this.#pending = null
    // Messages of another epoch belong to a life of the sequence the inbox says is over: replaying
    // them would only trigger another resync, forever.
    if (pending) for (const m of pending) if (m.epoch === epoch) this.live(m)
  }

  /**
   * A live message of the user's channel. The session itself is the router's listener (a
   * LiveReceiver): no closure per socket.
   */
  live(m: LiveNotification): void {
    if (m.revokedBefore !== undefined) {
      if (isRevoked(this.issuedAt, m.revokedBefore)) this.close(Closes.Revoked)
      return
    }
    if (this.phase === Phase.Live) {
      if (m.epoch === this.epoch) {
        if (m.seq <= this.#cursor) return
        if (m.seq === this.#cursor + 1) {
          this.#cursor = m.seq
          this.pod.metrics.delivered.inc()
          if (!this.overloaded()) {
            this.transport.notification(m.frame, m.seq, m.epoch)
            this.pod.tracing.delivered(m.meta, 'live', m.seq, this.transport.kind)
          }
          return
        }
      }
      // a gap or another epoch: the inbox knows what happened
      if (this.#fruitlessResyncs >= MAX_FRUITLESS_RESYNCS) {
        // The inbox cannot explain the gap (writes lost in a failover): start over from a fresh
        // connection, whose resume tells the client what is missing.
        this.close(Closes.TryAgainLater)
        return
      }
      this.phase = Phase.Resyncing
      this.#pending = [m]
      this.pod.metrics.resyncs.inc()
      this.enqueue(() => this.#resync())
      return
    }
    if (this.closed) return
    // Starting or Resyncing: keep it for after the inbox read
    if (this.#pending) this.#pending.push(m)
    else this.#pending = [m]
  }

  /**
   * Re-reads the inbox from the cursor, after whatever this session is doing now. Used when the
   * pod's pub/sub connection came back: what was published while it was down never arrived.
   */
  refresh(): void {
    this.enqueue(() => {
      if (this.closed) return
      this.phase = Phase.Resyncing
      if (!this.#pending) this.#pending = []
      return this.#resync()
    })
  }

  /** Runs after everything queued before it; a failure ends the session, never the process. */
  protected enqueue(step: () => Promise<void> | void): void {
    this.inbound = this.inbound.then(step).catch((err) => this.fail(err))
  }

  protected fail(err: unknown): void {
    if (this.closed) return
    this.pod.metrics.redisErrors.inc({ kind: redisErrorKind(err) })
    this.pod.log.error({ err, sessionId: this.id }, 'session failed')
    this.close(Closes.TryAgainLater)
  }

  /** Always runs on the `inbound` chain (enqueue): a failure there ends the session via fail(). */
  async #resync(): Promise<void> {
    const before = this.#cursor
    // Also after a pub/sub reconnect (refresh): a revocation published while this pod's subscriber
    // was down is gone (pub/sub is at-most-once), its record in Redis is not.
    const [read, revokedAt] = await Promise.all([
      this.pod.store.readInbox(this.userId, { lastSeq: this.#cursor, epoch: this.epoch }),
      this.pod.revocations.revokedAt(this.userId),
    ])
    if (this.closed) return
    if (isRevoked(this.issuedAt, revokedAt)) return this.close(Closes.Revoked)
    this.epoch = read.epoch
    this.#replay(read.frames, read.firstSeq, read.missed, read.metas)
    this.pod.metrics.replaySize.observe(read.frames.length)
    this.#fruitlessResyncs = read.missed || this.#cursor > before ? 0 : this.#fruitlessResyncs + 1
  }

  /** A slow reader is closed 1013 rather than letting its backlog grow without bound. */
  protected overloaded(): boolean {
    if (this.transport.backlog <= this.pod.config.socket.maxBufferedBytes) return false
    this.pod.metrics.slowReaders.inc()
    this.close(Closes.SlowReader)
    return true
  }

  protected control(type: ServerFrame['type'], json: string): void {
    if (!this.closed && !this.overloaded()) this.transport.control(type, json)
  }

  /** The session ended: nothing more is delivered. */
  protected stopDelivery(): void {
    this.phase = Phase.Closed
    this.#pending = null
  }
}
