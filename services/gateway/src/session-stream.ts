import type { ServerFrame } from '@tidings/contracts'
import { type InboxRead, isRevoked, type LiveNotification } from '@tidings/delivery'
import { redisErrorKind } from '@tidings/runtime'
import { Closes, type SessionClose } from './close-reasons.ts'
import { frameMark } from './frame-mark.ts'
import { missedFrame, welcomeFrame } from './frames.ts'
import type { PodContext } from './pod.ts'
import type { Transport } from './transport.ts'

export const Phase = { Starting: 0, Live: 1, Resyncing: 2, Closed: 3 } as const
export type Phase = (typeof Phase)[keyof typeof Phase]
/** Resyncs in a row that did not move the cursor before the session gives up (1013). */
const MAX_FRUITLESS_RESYNCS = 3
/** The last seqs sent whose frames a session remembers (by frameMark), at most; a power of two. */
const MARKS = 4
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
 *
 * When Redis loses a user's last writes in a failover, the epoch survives and its seqs are handed
 * out again. The session keeps the fingerprints of the frames of its last MARKS seqs (frame-mark.ts):
 * another frame under one of them, live or in a re-read, means the app has not seen the
 * notifications now holding seqs it has, so it gets `missed` from 0 and the inbox from the oldest
 * (§6). A message under one of them with the same frame is a late duplicate, dropped.
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
  /** frameMarks of the last MARKS seqs sent, at seq % MARKS; allocated with the first one sent. */
  #marks: number[] | null = null
  /** The lowest seq #marks may hold (those below were sent in another epoch, or never). */
  #marksFrom = 1
  #pending: LiveNotification[] | null = null
  /** Consecutive resyncs started by a gap that did not move the cursor: a gap the inbox cannot fill. */
  #fruitlessResyncs = 0
  /**
   * What a replay put in the transport's buffer, lowered as it drains: a replay (up to the inbox cap)
   * is not a slow reader, so the limit counts the live backlog on top of it (overloaded()).
   */
  #replayBacklog = 0
  /** The pod's pub/sub connection was lost: live messages wait for the refresh (suspend()). */
  #suspended = false
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
    this.#replay(read.frames, read.firstSeq, read.missed, read.metas, '')
    pod.metrics.replayed.inc(read.frames.length)
    pod.metrics.replaySize.observe(read.frames.length)
  }

  /**
   * Sends a replay then what arrived live meanwhile; leaves the session live. `epochBefore`: the
   * session's epoch before the read ('' at connect).
   */
  #replay(
    frames: string[],
    firstSeq: number,
    missed: { afterSeq: number; nextSeq: number; epoch: string } | undefined,
    metas: InboxRead['metas'],
    epochBefore: string,
  ): void {
    if (missed) {
      this.control('missed', missedFrame(missed))
      this.pod.metrics.missed.inc()
    }
    if (this.closed) return
    const epoch = this.epoch
    const backlogBefore = this.transport.backlog
    for (let i = 0; i < frames.length; i++) {
      this.transport.notification(frames[i]!, firstSeq + i, epoch)
      this.pod.tracing.delivered(metas[i], 'replay', firstSeq + i, this.transport.kind)
    }
    // the larger of what is left of earlier replays and what this one queued: replays never add up,
    // or a reader that reads nothing and keeps being re-read would never be a slow reader
    this.#replayBacklog = Math.max(
      Math.min(this.#replayBacklog, backlogBefore),
      this.transport.backlog - backlogBefore,
    )
    // not a continuation of what was sent (a new epoch, a rewind, a gap): no earlier mark holds
    if (epoch !== epochBefore || firstSeq !== this.#cursor + 1) this.#marksFrom = firstSeq
    for (let i = Math.max(0, frames.length - MARKS); i < frames.length; i++)
      this.#remember(frames[i]!, firstSeq + i)
    this.#cursor = firstSeq + frames.length - 1
    // suspended: what arrived stays pending until the refresh has checked the cursor
    if (this.#suspended) return
    this.phase = Phase.Live
    const pending = this.#pending
    this.#pending = null
    if (!pending) return
    let unknownEpoch = false
    for (const m of pending) {
      // a revocation published while the inbox was read applies whatever the epoch; at or below the
      // cursor, live() tells a duplicate the read had from a seq handed out again
      if (m.epoch === epoch || m.revokedBefore !== undefined) this.live(m)
      // Another epoch: the one this read left behind is over (its messages would only start another
      // resync, forever); one this session has not read yet began after the read: read again, once.
      else if (m.epoch !== epochBefore) unknownEpoch = true
    }
    if (unknownEpoch && this.phase === Phase.Live) this.#startResync(true)
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
        if (m.seq === this.#cursor + 1) {
          this.#cursor = m.seq
          this.#remember(m.frame, m.seq)
          this.#fruitlessResyncs = 0
          this.pod.metrics.delivered.inc()
          if (!this.overloaded()) {
            this.transport.notification(m.frame, m.seq, m.epoch)
            this.pod.tracing.delivered(m.meta, 'live', m.seq, this.transport.kind)
          }
          return
        }
        if (m.seq <= this.#cursor) {
          // Already sent, published before the last read (which had it), unless Redis lost writes
          // and handed the seq out again: another frame under a seq whose frame is remembered is
          // checked against the inbox. Older seqs are taken for duplicates; a reuse reaching the
          // cursor shows there, and on the next re-read.
          const mark = this.#markOf(m.seq)
          if (mark !== 0 && frameMark(m.frame, m.seq) !== mark) this.#startResync(false)
          return
        }
      }
      // a gap or another epoch: the inbox knows what happened
      if (this.#fruitlessResyncs >= MAX_FRUITLESS_RESYNCS) {
        // The inbox cannot explain the gap: start over from a fresh connection, whose resume tells
        // the client what is missing.
        this.close(Closes.TryAgainLater)
        return
      }
      this.#startResync(true, m)
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
      this.#suspended = false
      this.phase = Phase.Resyncing
      if (!this.#pending) this.#pending = []
      // not counted as fruitless: nothing says a message was lost, and every reconnect runs one
      return this.#resync(false)
    })
  }

  /**
   * The pod's pub/sub connection was lost: until refresh() has re-read the inbox, live messages are
   * held. Delivered live first, a message whose seq follows the cursor would hide that publishes lost
   * meanwhile reused the seqs before it (writes lost in a failover), which the refresh checks.
   */
  suspend(): void {
    if (this.closed) return
    this.#suspended = true
    if (this.phase === Phase.Live) {
      this.phase = Phase.Resyncing
      this.#pending = []
    }
  }

  /** Live → Resyncing: re-reads the inbox after what is queued. `m`: the message that showed the gap. */
  #startResync(counted: boolean, m?: LiveNotification): void {
    this.phase = Phase.Resyncing
    this.#pending = m ? [m] : []
    this.pod.metrics.resyncs.inc()
    this.enqueue(() => this.#resync(counted))
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

  /**
   * Always runs on the `inbound` chain (enqueue): a failure there ends the session via fail().
   * `counted`: started by a gap (fruitless ones in a row end the session), not by a reconnect.
   */
  async #resync(counted: boolean): Promise<void> {
    const before = this.#cursor
    const epochBefore = this.epoch
    // The cursor's own entry is read too when its fingerprint is known: the check that no other
    // notification holds that seq now.
    const cursorMark = this.#markOf(before)
    const verify = before > 0 && cursorMark !== 0
    // Also after a pub/sub reconnect (refresh): a revocation published while this pod's subscriber
    // was down is gone (pub/sub is at-most-once), its record in Redis is not.
    const [read, revokedAt] = await Promise.all([
      this.pod.store.readInbox(this.userId, { lastSeq: verify ? before - 1 : before, epoch: epochBefore }),
      this.pod.revocations.revokedAt(this.userId),
    ])
    if (this.closed) return
    if (isRevoked(this.issuedAt, revokedAt)) return this.close(Closes.Revoked)
    let { frames, firstSeq, missed, metas } = read
    if (verify && read.epoch === epochBefore && !read.regressed) {
      if (read.seq < before || (firstSeq === before && frameMark(frames[0]!, before) !== cursorMark))
        return this.#rewind()
      if (firstSeq === before) {
        frames = frames.slice(1)
        metas = metas.slice(1)
        firstSeq = before + 1
      }
      // counted from the seq before the cursor's: the app has the cursor's
      if (missed?.afterSeq === before - 1)
        missed = missed.nextSeq > before + 1 ? { ...missed, afterSeq: before } : undefined
    }
    this.epoch = read.epoch
    this.#replay(frames, firstSeq, missed, metas, epochBefore)
    this.pod.metrics.replaySize.observe(frames.length)
    if (missed || this.#cursor > before) this.#fruitlessResyncs = 0
    else if (counted) this.#fruitlessResyncs++
  }

  /**
   * Redis lost writes and the seqs up to the cursor belong to other notifications now: `missed` from
   * 0 and the inbox from the oldest, as a resume from beyond the latest seq gets (§6).
   */
  async #rewind(): Promise<void> {
    const epochBefore = this.epoch
    const read = await this.pod.store.readInbox(this.userId, { lastSeq: 0, epoch: epochBefore })
    if (this.closed) return
    this.epoch = read.epoch
    this.#marks = null // what they remember was handed out again
    this.pod.metrics.replaySize.observe(read.frames.length)
    const missed = { afterSeq: 0, nextSeq: read.firstSeq, epoch: read.epoch }
    this.#replay(read.frames, read.firstSeq, missed, read.metas, epochBefore)
  }

  #remember(frame: Buffer | string, seq: number): void {
    // allocated with the first notification sent: an idle socket holds none
    if (this.#marks === null) this.#marks = new Array<number>(MARKS).fill(0)
    this.#marks[seq & (MARKS - 1)] = frameMark(frame, seq)
  }

  /** The frameMark of what was sent under `seq` in this epoch, or 0 when it is not remembered. */
  #markOf(seq: number): number {
    if (this.#marks === null || seq < this.#marksFrom || seq > this.#cursor || seq <= this.#cursor - MARKS)
      return 0
    return this.#marks[seq & (MARKS - 1)]!
  }

  /**
   * A slow reader is closed 1013 rather than letting its backlog grow without bound: one whose live
   * backlog passes MAX_BUFFERED_BYTES, on top of what is left of the last replay.
   */
  protected overloaded(): boolean {
    const backlog = this.transport.backlog
    if (backlog < this.#replayBacklog) this.#replayBacklog = backlog
    if (backlog <= this.pod.config.socket.maxBufferedBytes + this.#replayBacklog) return false
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
