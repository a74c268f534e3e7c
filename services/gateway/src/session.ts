import { CloseCode, ErrorCode, type ServerFrame } from '@tidings/contracts'
import { type InboxRead, isRevoked, type LiveNotification, type ResumePoint } from '@tidings/delivery'
import { redisErrorKind } from '@tidings/runtime'
import type { Principal } from './auth/token-verifier.ts'
import {
  authenticatedFrame,
  errorFrame,
  missedFrame,
  PONG,
  parseClientFrame,
  reauthFrame,
  reconnectFrame,
  topicReplyFrame,
  welcomeFrame,
} from './frames.ts'
import type { PodContext } from './pod.ts'
import { checkReauth } from './reauth.ts'
import type { Transport } from './transport.ts'

const Phase = { Starting: 0, Live: 1, Resyncing: 2, Closed: 3 } as const
type Phase = (typeof Phase)[keyof typeof Phase]
/** Resyncs in a row that did not move the cursor before the session gives up (1013). */
const MAX_FRUITLESS_RESYNCS = 3
// `inbound` until start() runs: one shared promise, not one per session
const STARTING: Promise<void> = Promise.resolve()

/** What a session is given by the hub that opened it: the pod's services and the hub itself. */
export interface SessionContext extends PodContext {
  readonly hub: SessionHost
}

/** The hub as a session sees it (hub.ts): it is told when a session ends and when its socket is gone. */
export interface SessionHost {
  /** The session released everything it held: it leaves the hub's set. Called once per session. */
  released(session: Session): void
  /** The connection under the session is gone (its close event): its slot is free again. */
  disconnected(session: Session | null): void
}

/**
 * One connection of one user (a WebSocket or an SSE stream). Kept small: tens of thousands
 * live in a pod. Its state is its own: the hub (hub.ts) opens it, sweeps it with heartbeat(),
 * asks it to refresh() or reconnect(); the transport feeds it receive()/pong()/disconnected().
 *
 * Order guarantee: the pod subscribes to the user's channel BEFORE reading the inbox, buffers
 * what arrives meanwhile, sends the replay, then drains the buffer dropping seqs already sent.
 * Live messages must then follow `cursor + 1` exactly in the session's epoch; anything else (a
 * gap after a Redis failover, a pub/sub message lost, a new epoch) re-reads the inbox from the
 * cursor, so the client never sees a seq twice or out of order within a session.
 */
export class Session {
  readonly id: string
  readonly userId: string
  readonly #transport: Transport
  readonly #pod: SessionContext
  #expiresAt: number
  /** The token's `iat` (ms): a revocation at or after it ends the session. */
  #issuedAt: number | undefined
  #allowedTopics: readonly string[]
  #topics: Set<string> | null = null
  #epoch = ''
  #cursor = 0
  #phase: Phase = Phase.Starting
  #pending: LiveNotification[] | null = null
  /** Set by a pong, cleared by each heartbeat. */
  #alive = true
  #admitted = false
  #joined = false
  #warned = false
  #violations = 0
  /** Consecutive resyncs that did not move the cursor: a gap the inbox cannot fill. */
  #fruitlessResyncs = 0
  #tokens: number
  #refilledAt: number
  /** Inbound frames received and not yet handled (bounded by MAX_QUEUED_FRAMES). */
  #queued = 0
  /** Inbound frames are handled one after another: an ack is done before the next frame. */
  #inbound: Promise<void> = STARTING
  readonly #onLive = (m: LiveNotification): void => this.#live(m)
  /** Created on the first topic subscription: most sessions never join a topic. */
  #broadcastListener: ((frame: Buffer) => void) | null = null
  get #onBroadcast(): (frame: Buffer) => void {
    if (!this.#broadcastListener) {
      this.#broadcastListener = (frame: Buffer) => {
        if (!this.closed && !this.#overloaded()) this.#transport.broadcast(frame)
      }
    }
    return this.#broadcastListener
  }

  /** Holds no resource and starts nothing: the hub registers it, then calls start(). */
  constructor(transport: Transport, id: string, principal: Principal, pod: SessionContext) {
    this.#transport = transport
    this.id = id
    this.userId = principal.userId
    this.#expiresAt = principal.expiresAt
    this.#issuedAt = principal.issuedAt
    this.#allowedTopics = principal.topics
    this.#pod = pod
    this.#tokens = pod.config.RATE_LIMIT_BURST
    this.#refilledAt = Date.now()
  }

  /**
   * Admission (per-user limit), subscription, then the replay. The transport's inbound events
   * are wired synchronously after this returns: frames that arrive meanwhile wait in `inbound`.
   */
  start(resume: ResumePoint): void {
    this.#inbound = this.#start(resume).catch((err) => this.#fail(err))
  }

  get kind(): Transport['kind'] {
    return this.#transport.kind
  }

  // a method, not a field check, so TypeScript does not narrow it away across awaits
  get closed(): boolean {
    return this.#phase === Phase.Closed
  }

  /** Holds a presence entry, which the hub's heartbeat refreshes. */
  get present(): boolean {
    return this.#admitted
  }

  // A failure here (Redis down) ends the session through fail(), like every step of `inbound`.
  async #start(resume: ResumePoint): Promise<void> {
    const pod = this.#pod
    this.#admitted = await pod.presence.join(this.userId, this.id, pod.config.MAX_SESSIONS_PER_USER)
    if (!this.#admitted) return this.close(CloseCode.TooManySessions, 'too many sessions for this user')
    // closed while waiting: cleanup() releases what was just acquired
    if (this.closed) return this.cleanup()
    this.#joined = true
    await pod.router.joinUser(this.userId, this.#onLive)
    if (this.closed) return
    // Checked again now that the channel is subscribed: a revocation published between the
    // handshake's check and the subscription would otherwise be missed.
    const [read, revokedAt] = await Promise.all([
      pod.store.readInbox(this.userId, resume),
      pod.revocations.revokedAt(this.userId),
    ])
    if (this.closed) return
    if (isRevoked(this.#issuedAt, revokedAt)) return this.close(CloseCode.Revoked, 'sessions revoked')
    this.#epoch = read.epoch
    this.#control('welcome', welcomeFrame(this.id, this.userId, read.epoch, pod.config.HEARTBEAT_MS))
    this.#replay(read.frames, read.firstSeq, read.missed, read.metas)
    pod.metrics.replayed.inc(read.frames.length)
    pod.metrics.replaySize.observe(read.frames.length)
    if (!this.closed) pod.deadlines.schedule(this)
  }

  /** Sends a replay then what arrived live meanwhile; leaves the session live. */
  #replay(
    frames: string[],
    firstSeq: number,
    missed: { afterSeq: number; nextSeq: number; epoch: string } | undefined,
    metas: InboxRead['metas'],
  ): void {
    if (missed) {
      this.#control('missed', missedFrame(missed))
      this.#pod.metrics.missed.inc()
    }
    const epoch = this.#epoch
    for (let i = 0; i < frames.length; i++) {
      if (this.closed || this.#overloaded()) return
      this.#transport.notification(frames[i]!, firstSeq + i, epoch)
      this.#pod.tracing.delivered(metas[i], 'replay', firstSeq + i, this.#transport.kind)
    }
    this.#cursor = firstSeq + frames.length - 1
    this.#phase = Phase.Live
    const pending = this.#pending
    this.#pending = null
    // Messages of another epoch belong to a life of the sequence the inbox says is over: replaying
    // them would only trigger another resync, forever.
    if (pending) for (const m of pending) if (m.epoch === epoch) this.#live(m)
  }

  #live(m: LiveNotification): void {
    if (m.revokedBefore !== undefined) {
      if (isRevoked(this.#issuedAt, m.revokedBefore)) this.close(CloseCode.Revoked, 'sessions revoked')
      return
    }
    if (this.#phase === Phase.Live) {
      if (m.epoch === this.#epoch) {
        if (m.seq <= this.#cursor) return
        if (m.seq === this.#cursor + 1) {
          this.#cursor = m.seq
          this.#pod.metrics.delivered.inc()
          if (!this.#overloaded()) {
            this.#transport.notification(m.frame, m.seq, m.epoch)
            this.#pod.tracing.delivered(m.meta, 'live', m.seq, this.#transport.kind)
          }
          return
        }
      }
      // a gap or another epoch: the inbox knows what happened
      if (this.#fruitlessResyncs >= MAX_FRUITLESS_RESYNCS) {
        // The inbox cannot explain the gap (writes lost in a failover): start over from a fresh
        // connection, whose resume tells the client what is missing.
        this.close(CloseCode.TryAgainLater, 'try again later')
        return
      }
      this.#phase = Phase.Resyncing
      this.#pending = [m]
      this.#pod.metrics.resyncs.inc()
      this.#enqueue(() => this.#resync())
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
    this.#enqueue(() => {
      if (this.closed) return
      this.#phase = Phase.Resyncing
      if (!this.#pending) this.#pending = []
      return this.#resync()
    })
  }

  /** Runs after everything queued before it; a failure ends the session, never the process. */
  #enqueue(step: () => Promise<void> | void): void {
    this.#inbound = this.#inbound.then(step).catch((err) => this.#fail(err))
  }

  #fail(err: unknown): void {
    if (this.closed) return
    this.#pod.metrics.redisErrors.inc({ kind: redisErrorKind(err) })
    this.#pod.log.error({ err, sessionId: this.id }, 'session failed')
    this.close(CloseCode.TryAgainLater, 'try again later')
  }

  /** Always runs on the `inbound` chain (enqueue): a failure there ends the session via fail(). */
  async #resync(): Promise<void> {
    const before = this.#cursor
    // Also after a pub/sub reconnect (refresh): a revocation published while this pod's subscriber
    // was down is gone (pub/sub is at-most-once), its record in Redis is not.
    const [read, revokedAt] = await Promise.all([
      this.#pod.store.readInbox(this.userId, { lastSeq: this.#cursor, epoch: this.#epoch }),
      this.#pod.revocations.revokedAt(this.userId),
    ])
    if (this.closed) return
    if (isRevoked(this.#issuedAt, revokedAt)) return this.close(CloseCode.Revoked, 'sessions revoked')
    this.#epoch = read.epoch
    this.#replay(read.frames, read.firstSeq, read.missed, read.metas)
    this.#pod.metrics.replaySize.observe(read.frames.length)
    this.#fruitlessResyncs = read.missed || this.#cursor > before ? 0 : this.#fruitlessResyncs + 1
  }

  /** An inbound WebSocket frame. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    // the limit protects the pod, so it applies on arrival; everything else in arrival order
    if (!this.#takeToken()) {
      this.close(CloseCode.RateLimited, 'rate limited')
      return
    }
    // a handler awaiting a slow Redis must not let frames pile up behind it without bound
    if (++this.#queued > this.#pod.config.MAX_QUEUED_FRAMES) {
      this.close(CloseCode.RateLimited, 'too many frames queued')
      return
    }
    this.#enqueue(() => {
      this.#queued--
      return this.#handleRaw(data, isBinary)
    })
  }

  /** An inbound ping control frame (ws answers it): it costs a token like any frame. */
  receivePing(): void {
    if (!this.closed && !this.#takeToken()) this.close(CloseCode.RateLimited, 'rate limited')
  }

  #handleRaw(data: Buffer, isBinary: boolean): Promise<void> | undefined {
    if (this.closed) return
    if (isBinary) return void this.close(CloseCode.UnsupportedData, 'binary frames are not accepted')
    let value: unknown
    try {
      value = JSON.parse(data.toString('utf8'))
    } catch {
      return void this.close(CloseCode.InvalidPayload, 'frames must be JSON text')
    }
    return this.#handle(value)
  }

  /** A parsed client frame; handled in arrival order on the `inbound` chain. */
  async #handle(value: unknown): Promise<void> {
    if (this.closed) return
    const parsed = parseClientFrame(value)
    if (!parsed.ok) return this.#violation(parsed.code, parsed.message)
    const f = parsed.frame
    switch (f.type) {
      case 'ack':
        try {
          // an ack names its epoch when it can: one sent before the client saw an epoch change
          // must not trim the new epoch's notifications
          await this.#pod.tracing.ack(
            this.#pod.store,
            this.userId,
            f.epoch ?? this.#epoch,
            f.seq,
            this.#transport.kind,
          )
          this.#pod.metrics.acks.inc()
        } catch (err) {
          // the client acks again later (acks are cumulative); nothing is lost
          this.#pod.metrics.redisErrors.inc({ kind: redisErrorKind(err) })
          this.#pod.log.warn({ err, sessionId: this.id }, 'ack failed')
        }
        return
      case 'ping':
        return this.#control('pong', PONG)
      case 'subscribe':
      case 'unsubscribe':
        return this.#topic(f.type, f.topic)
      case 'auth':
        return this.#reauthenticate(f.token)
    }
  }

  /**
   * An `auth` frame: a fresh token of the same user, not revoked, extends the session; topics
   * the new token no longer allows are left. Runs on the `inbound` chain.
   */
  async #reauthenticate(token: string): Promise<void> {
    const outcome = await checkReauth(this.#pod, this.userId, token)
    if (!outcome.ok) return this.close(outcome.code, outcome.reason)
    if (this.closed) return
    const p = outcome.principal
    this.#expiresAt = p.expiresAt
    this.#issuedAt = p.issuedAt
    this.#allowedTopics = p.topics
    this.#warned = false
    if (this.#topics) {
      for (const t of this.#topics) {
        if (!p.topics.includes(t)) {
          this.#topics.delete(t)
          this.#pod.router.leaveTopic(t, this.#onBroadcast)
          this.#control('unsubscribed', topicReplyFrame('unsubscribed', t))
        }
      }
    }
    if (this.closed) return
    this.#pod.deadlines.schedule(this)
    this.#control('authenticated', authenticatedFrame(p.expiresAt))
  }

  async #topic(type: 'subscribe' | 'unsubscribe', topic: string): Promise<void> {
    if (type === 'unsubscribe') {
      if (this.#topics?.delete(topic)) this.#pod.router.leaveTopic(topic, this.#onBroadcast)
      return this.#control('unsubscribed', topicReplyFrame('unsubscribed', topic))
    }
    if (!this.#allowedTopics.includes(topic)) {
      return this.#control(
        'error',
        errorFrame(ErrorCode.ForbiddenTopic, `the token does not allow topic ${topic}`),
      )
    }
    if (!this.#topics) this.#topics = new Set()
    if (!this.#topics.has(topic)) {
      this.#topics.add(topic)
      try {
        await this.#pod.router.joinTopic(topic, this.#onBroadcast)
      } catch (err) {
        this.#topics?.delete(topic)
        this.#pod.router.leaveTopic(topic, this.#onBroadcast)
        if (this.closed) return
        this.#pod.log.warn({ err, topic }, 'topic subscribe failed')
        return this.#control('error', errorFrame(ErrorCode.BadRequest, 'could not subscribe now, try again'))
      }
    }
    if (!this.closed) this.#control('subscribed', topicReplyFrame('subscribed', topic))
  }

  /** Called by the pod's deadline wheel at the token's warning and expiry times. */
  onDeadline(now: number): void {
    if (this.closed) return
    if (now >= this.#expiresAt + this.#pod.config.EXPIRY_GRACE_MS) {
      this.close(CloseCode.Unauthorized, 'token expired')
      return
    }
    if (!this.#warned && now >= this.#expiresAt - this.#pod.config.REAUTH_WARNING_MS) {
      this.#warned = true
      this.#control('reauth', reauthFrame(this.#expiresAt))
    }
    if (!this.closed) this.#pod.deadlines.schedule(this)
  }

  /** The next time onDeadline must run. */
  nextDeadline(): number {
    return this.#warned
      ? this.#expiresAt + this.#pod.config.EXPIRY_GRACE_MS
      : this.#expiresAt - this.#pod.config.REAUTH_WARNING_MS
  }

  #violation(code: string, message: string): void {
    this.#violations++
    if (this.#violations > this.#pod.config.MAX_VIOLATIONS) {
      this.close(CloseCode.PolicyViolation, 'too many protocol violations')
      return
    }
    this.#control('error', errorFrame(code, message))
  }

  // Token bucket: two numbers per socket. (rate-limiter-flexible keeps a keyed map and timers
  // per key, which is more than a socket needs for a limit that lives and dies with it.)
  #takeToken(): boolean {
    const { RATE_LIMIT_PER_SECOND: rate, RATE_LIMIT_BURST: burst } = this.#pod.config
    const now = Date.now()
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) * rate) / 1000)
    this.#refilledAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** A slow reader is closed 1013 rather than letting its backlog grow without bound. */
  #overloaded(): boolean {
    if (this.#transport.backlog <= this.#pod.config.MAX_BUFFERED_BYTES) return false
    this.#pod.metrics.slowReaders.inc()
    this.close(CloseCode.TryAgainLater, 'reading too slowly')
    return true
  }

  #control(type: ServerFrame['type'], json: string): void {
    if (!this.closed && !this.#overloaded()) this.#transport.control(type, json)
  }

  /** Graceful shutdown of the pod: tell the client when to come back, then 1012. */
  reconnect(afterMs: number): void {
    this.#control('reconnect', reconnectFrame(afterMs))
    this.close(CloseCode.ServiceRestart, 'server restart')
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    this.#pod.metrics.closes.inc({ code: String(code) })
    this.#phase = Phase.Closed
    this.#transport.close(code, reason)
    this.cleanup()
  }

  /** Releases everything the session holds; safe to call again (start() may acquire late). */
  cleanup(): void {
    this.#phase = Phase.Closed
    this.#pending = null
    const pod = this.#pod
    if (this.#joined) {
      this.#joined = false
      pod.router.leaveUser(this.userId, this.#onLive)
    }
    if (this.#topics) for (const t of this.#topics) pod.router.leaveTopic(t, this.#onBroadcast)
    this.#topics = null
    if (this.#admitted) {
      this.#admitted = false
      pod.presence.leave(this.userId, this.id).catch((err) => pod.log.warn({ err }, 'presence leave failed'))
    }
    pod.deadlines.cancel(this)
    pod.hub.released(this)
  }

  /** The transport's close event: the session ends and the hub frees the connection's slot. */
  disconnected(): void {
    this.#pod.hub.disconnected(this)
  }

  /** A WebSocket pong. */
  pong(): void {
    this.#alive = true
  }

  /**
   * One heartbeat of the hub's sweep: a connection that is gone, or did not answer the previous
   * ping, ends here (false); the others are pinged (true).
   */
  heartbeat(): boolean {
    const transport = this.#transport
    if (transport.gone) {
      this.cleanup()
      return false
    }
    if (!this.#alive && transport.answersPings) {
      this.#pod.log.debug({ sessionId: this.id }, 'missed pong: terminating')
      transport.terminate()
      this.cleanup()
      return false
    }
    this.#alive = false
    transport.heartbeat()
    return true
  }
}
