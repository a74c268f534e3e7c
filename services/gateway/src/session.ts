import { ErrorCode } from '@tidings/contracts'
import type { ResumePoint } from '@tidings/delivery'
import { redisErrorKind } from '@tidings/runtime'
import type { Principal } from './auth/token-verifier.ts'
import { Closes, type SessionClose } from './close-reasons.ts'
import {
  authenticatedFrame,
  errorFrame,
  PONG,
  parseClientFrame,
  reauthFrame,
  reconnectFrame,
  topicReplyFrame,
} from './frames.ts'
import type { PodContext } from './pod.ts'
import { checkReauth } from './reauth.ts'
import { SETTLED, SessionStream } from './session-stream.ts'
import type { Transport } from './transport.ts'

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
 * The ordered delivery (replay, live, resync) is its base class, session-stream.ts.
 */

const Presence = { None: 0, Maybe: 1, Held: 2 } as const
type Presence = (typeof Presence)[keyof typeof Presence]

export class Session extends SessionStream<SessionContext> {
  #expiresAt: number
  #allowedTopics: readonly string[]
  #topics: Set<string> | null = null
  /** Set by a pong, cleared by each heartbeat. */
  #alive = true
  /**
   * The presence entry: none, maybe (an admission that failed may still have run in Redis: its reply
   * lost with the connection), or held. A number, not two booleans: every idle socket has one.
   */
  #presence: Presence = Presence.None
  #joined = false
  #warned = false
  #violations = 0
  #tokens: number
  #refilledAt: number
  /** Inbound frames received and not yet handled (bounded by MAX_QUEUED_FRAMES). */
  #queued = 0
  /** Created on the first topic subscription: most sessions never join a topic. */
  #broadcastListener: ((frame: Buffer) => void) | null = null
  get #onBroadcast(): (frame: Buffer) => void {
    if (!this.#broadcastListener) {
      this.#broadcastListener = (frame: Buffer) => {
        if (!this.closed && !this.overloaded()) this.transport.broadcast(frame)
      }
    }
    return this.#broadcastListener
  }

  /** Holds no resource and starts nothing: the hub registers it, then calls start(). */
  constructor(transport: Transport, id: string, principal: Principal, pod: SessionContext) {
    super(transport, id, principal.userId, principal.issuedAt, pod)
    this.#expiresAt = principal.expiresAt
    this.#allowedTopics = principal.topics
    this.#tokens = pod.config.rateLimit.frameBurst
    // A full bucket stays full whatever the refill time says, so the first frame can refill from
    // 0: a small integer, where a timestamp would be a 16-byte heap number held by every idle socket.
    this.#refilledAt = 0
  }

  /**
   * Admission (per-user limit), subscription, then the replay. The transport's inbound events
   * are wired synchronously after this returns: frames that arrive meanwhile wait in `inbound`.
   */
  start(resume: ResumePoint): void {
    const started = this.#start(resume).catch((err) => this.fail(err))
    this.inbound = started
    // Started with nothing queued behind it: the settled promise (48 B) need not stay with an idle
    // socket, the shared settled one does the same.
    started.then(() => {
      if (this.inbound === started) this.inbound = SETTLED
    })
  }

  get kind(): Transport['kind'] {
    return this.transport.kind
  }

  /** Holds a presence entry, which the hub's heartbeat refreshes. */
  get present(): boolean {
    return this.#presence === Presence.Held
  }

  // A failure here (Redis down) ends the session through fail(), like every step of `inbound`.
  // The channel is subscribed first (the order guarantee: session-stream.ts), then one step
  // admits the session (per-user limit), checks the revocation and reads the inbox: one Redis
  // command per connect rather than three (issue 11). A refused session leaves the channel again.
  async #start(resume: ResumePoint): Promise<void> {
    const pod = this.pod
    this.#joined = true
    await pod.router.joinUser(this.userId, this)
    if (this.closed) return
    this.#presence = Presence.Maybe // if admit() throws, cleanup() still leaves
    const admission = await pod.admission.admit(
      this.userId,
      this.id,
      pod.config.admission.maxSessionsPerUser,
      resume,
    )
    if (!admission.admitted) {
      this.#presence = Presence.None
      return this.close(Closes.TooManySessions)
    }
    this.#presence = Presence.Held
    // closed while waiting: cleanup() releases what was just acquired
    if (this.closed) return this.cleanup()
    this.deliverFrom(admission.read, admission.revokedAt)
    if (!this.closed) pod.deadlines.schedule(this)
  }

  /** An inbound WebSocket frame. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    // the limit protects the pod, so it applies on arrival; everything else in arrival order
    if (!this.#takeToken()) {
      this.close(Closes.RateLimited)
      return
    }
    // a handler awaiting a slow Redis must not let frames pile up behind it without bound
    if (++this.#queued > this.pod.config.socket.maxQueuedFrames) {
      this.close(Closes.FramesQueued)
      return
    }
    this.enqueue(() => {
      this.#queued--
      return this.#handleRaw(data, isBinary)
    })
  }

  /** An inbound ping control frame (ws answers it): it costs a token like any frame. */
  receivePing(): void {
    if (!this.closed && !this.#takeToken()) this.close(Closes.RateLimited)
  }

  #handleRaw(data: Buffer, isBinary: boolean): Promise<void> | undefined {
    if (this.closed) return
    if (isBinary) return void this.close(Closes.BinaryFrame)
    let value: unknown
    try {
      value = JSON.parse(data.toString('utf8'))
    } catch {
      return void this.close(Closes.NotJson)
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
          await this.pod.tracing.ack(
            this.pod.store,
            this.userId,
            f.epoch ?? this.epoch,
            f.seq,
            this.transport.kind,
          )
          this.pod.metrics.acks.inc()
        } catch (err) {
          // the client acks again later (acks are cumulative); nothing is lost
          this.pod.metrics.redisErrors.inc({ kind: redisErrorKind(err) })
          this.pod.log.warn({ err, sessionId: this.id }, 'ack failed')
        }
        return
      case 'ping':
        return this.control('pong', PONG)
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
    const outcome = await checkReauth(this.pod, this.userId, token)
    if (!outcome.ok) return this.close(outcome.close)
    if (this.closed) return
    const p = outcome.principal
    this.#expiresAt = p.expiresAt
    this.issuedAt = p.issuedAt
    this.#allowedTopics = p.topics
    this.#warned = false
    if (this.#topics) {
      for (const t of this.#topics) {
        if (!p.topics.includes(t)) {
          this.#topics.delete(t)
          this.pod.router.leaveTopic(t, this.#onBroadcast)
          this.control('unsubscribed', topicReplyFrame('unsubscribed', t))
        }
      }
    }
    if (this.closed) return
    this.pod.deadlines.schedule(this)
    this.control('authenticated', authenticatedFrame(p.expiresAt))
  }

  async #topic(type: 'subscribe' | 'unsubscribe', topic: string): Promise<void> {
    if (type === 'unsubscribe') {
      if (this.#topics?.delete(topic)) this.pod.router.leaveTopic(topic, this.#onBroadcast)
      return this.control('unsubscribed', topicReplyFrame('unsubscribed', topic))
    }
    if (!this.#allowedTopics.includes(topic)) {
      return this.control(
        'error',
        errorFrame(ErrorCode.ForbiddenTopic, `the token does not allow topic ${topic}`),
      )
    }
    if (!this.#topics) this.#topics = new Set()
    if (!this.#topics.has(topic)) {
      this.#topics.add(topic)
      try {
        await this.pod.router.joinTopic(topic, this.#onBroadcast)
      } catch (err) {
        this.#topics?.delete(topic)
        this.pod.router.leaveTopic(topic, this.#onBroadcast)
        if (this.closed) return
        this.pod.log.warn({ err, topic }, 'topic subscribe failed')
        return this.control('error', errorFrame(ErrorCode.BadRequest, 'could not subscribe now, try again'))
      }
    }
    if (!this.closed) this.control('subscribed', topicReplyFrame('subscribed', topic))
  }

  /** Called by the pod's deadline wheel at the token's warning and expiry times. */
  onDeadline(now: number): void {
    if (this.closed) return
    if (now >= this.#expiresAt + this.pod.config.reauth.expiryGraceMs) {
      this.close(Closes.TokenExpired)
      return
    }
    if (!this.#warned && now >= this.#expiresAt - this.pod.config.reauth.warningMs) {
      this.#warned = true
      this.control('reauth', reauthFrame(this.#expiresAt))
    }
    if (!this.closed) this.pod.deadlines.schedule(this)
  }

  /** The next time onDeadline must run. */
  nextDeadline(): number {
    return this.#warned
      ? this.#expiresAt + this.pod.config.reauth.expiryGraceMs
      : this.#expiresAt - this.pod.config.reauth.warningMs
  }

  #violation(code: string, message: string): void {
    this.#violations++
    if (this.#violations > this.pod.config.socket.maxViolations) {
      this.close(Closes.Violations)
      return
    }
    this.control('error', errorFrame(code, message))
  }

  // Token bucket: two numbers per socket. (rate-limiter-flexible keeps a keyed map and timers
  // per key, which is more than a socket needs for a limit that lives and dies with it.)
  #takeToken(): boolean {
    const { framesPerSecond: rate, frameBurst: burst } = this.pod.config.rateLimit
    const now = Date.now()
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) * rate) / 1000)
    this.#refilledAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** Graceful shutdown of the pod: tell the client when to come back, then 1012. */
  reconnect(afterMs: number): void {
    this.control('reconnect', reconnectFrame(afterMs))
    this.close(Closes.ServerRestart)
  }

  close(why: SessionClose): void {
    if (this.closed) return
    this.pod.metrics.closes.inc({ code: String(why.code) })
    this.stopDelivery()
    this.transport.close(why)
    this.cleanup()
  }

  /** Releases everything the session holds; safe to call again (start() may acquire late). */
  cleanup(): void {
    this.stopDelivery()
    const pod = this.pod
    if (this.#joined) {
      this.#joined = false
      pod.router.leaveUser(this.userId, this)
    }
    if (this.#topics) for (const t of this.#topics) pod.router.leaveTopic(t, this.#onBroadcast)
    this.#topics = null
    if (this.#presence !== Presence.None) {
      this.#presence = Presence.None
      pod.presence.leave(this.userId, this.id).catch((err) => pod.log.warn({ err }, 'presence leave failed'))
    }
    pod.deadlines.cancel(this)
    pod.hub.released(this)
  }

  /** The transport's close event: the session ends and the hub frees the connection's slot. */
  disconnected(): void {
    this.pod.hub.disconnected(this)
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
    const transport = this.transport
    if (transport.gone) {
      this.cleanup()
      return false
    }
    if (!this.#alive && transport.answersPings) {
      this.pod.log.debug({ sessionId: this.id }, 'missed pong: terminating')
      transport.terminate()
      this.cleanup()
      return false
    }
    this.#alive = false
    transport.heartbeat()
    return true
  }
}
