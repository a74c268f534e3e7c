import { randomUUID } from 'node:crypto'
import type { PresenceEntry, RedisClient, ResumePoint } from '@tidings/delivery'
import type { Principal } from './auth/token-verifier.ts'
import { Closes } from './close-reasons.ts'
import { TRY_AGAIN_LATER } from './errors.ts'
import type { HeapCompaction } from './heap-compaction.ts'
import type { PodContext } from './pod.ts'
import { Session, type SessionContext, type SessionHost } from './session.ts'
import type { Transport } from './transport.ts'

// After a pub/sub failover every session re-reads its inbox; in slices, so that a pod with 18k
// sockets does not send Redis 18k scripts in one burst.
const REFRESH_SLICE = 500
const REFRESH_PAUSE_MS = 20
/** The drain closes a share of the sessions this often. */
const DRAIN_STEP_MS = 20

/**
 * The heartbeat sweep visits one slice of the sessions per tick, each session once per
 * HEARTBEAT_MS: a tick every ~100 ms (at most 100 per interval) rather than every socket pinged and
 * every presence entry refreshed in one tick, which stalled delivery for up to a second at 10k
 * sockets (issue 11).
 */
export function heartbeatSlices(heartbeatMs: number): number {
  return Math.max(1, Math.min(100, Math.floor(heartbeatMs / 100)))
}

/** Which slice a session belongs to: from its (random) id, so no field per session is needed. */
function sliceOf(sessionId: string, slices: number): number {
  let h = 0
  for (let i = Math.max(0, sessionId.length - 8); i < sessionId.length; i++) {
    h = (Math.imul(h, 31) + sessionId.charCodeAt(i)) | 0
  }
  return (h >>> 0) % slices
}

/**
 * The pod's sessions and what is done to all of them: admission (MAX_CONNECTIONS, draining) for
 * WebSocket and SSE alike, the heartbeat sweep, the graceful drain and the recovery after a
 * pub/sub reconnect. Transports ask it to open a session (open) and tell it when their connection
 * is gone (disconnected); what a session does on its connection is session.ts.
 */
export class Hub implements SessionHost {
  readonly #pod: PodContext
  readonly #context: SessionContext
  /** The sessions, by heartbeat slice (sliceOf). */
  readonly #slices: Array<Set<Session>>
  #size = 0
  /** The slice the next heartbeat tick visits. */
  #nextSlice = 0
  /** Upgraded WebSockets and SSE streams until their connection closes, the closing ones included. */
  #openSockets = 0
  #draining = false
  #heartbeat: NodeJS.Timeout | undefined
  /** Told of every session opened or closed (COMPACT_AFTER_SESSIONS); none when it is 0. */
  readonly #compaction: HeapCompaction | undefined

  constructor(pod: PodContext, compaction?: HeapCompaction) {
    this.#pod = pod
    this.#compaction = compaction
    this.#context = { ...pod, hub: this }
    this.#slices = Array.from({ length: heartbeatSlices(pod.config.socket.heartbeatMs) }, () => new Set())
  }

  get draining(): boolean {
    return this.#draining
  }

  /** Sessions registered (from open() until they end). */
  get size(): number {
    return this.#size
  }

  /** Connections counted against MAX_CONNECTIONS, the closing ones included. */
  get openSockets(): number {
    return this.#openSockets
  }

  /**
   * Before a connection is accepted (the WebSocket upgrade, the SSE response): a full pod refuses
   * with an HTTP error, so the refusal allocates nothing. Closing sockets count too.
   */
  checkCapacity(): void {
    if (this.#openSockets >= this.#pod.config.admission.maxConnections) {
      this.#pod.metrics.refused.inc({ reason: 'pod_full' })
      throw new TRY_AGAIN_LATER('pod full')
    }
  }

  /**
   * A connection was accepted: it holds a slot until the transport calls disconnected(). Opens
   * its session, or closes the transport and returns null when the pod started draining or filled
   * up since checkCapacity() (several handshakes may pass it at once). The caller wires the
   * transport's inbound events to the session synchronously, before anything is awaited.
   */
  open(transport: Transport, principal: Principal, resume: ResumePoint): Session | null {
    const { metrics, config } = this.#pod
    this.#openSockets++
    if (this.#draining) {
      transport.close(Closes.ServerRestart)
      return null
    }
    if (this.#openSockets > config.admission.maxConnections) {
      metrics.closes.inc({ code: String(Closes.PodFull.code) })
      transport.close(Closes.PodFull)
      return null
    }
    const session = new Session(transport, randomUUID(), principal, this.#context)
    this.#slices[sliceOf(session.id, this.#slices.length)]!.add(session)
    this.#size++
    metrics.connections.inc()
    metrics.connectionsByTransport.inc({ transport: transport.kind })
    session.start(resume)
    this.#compaction?.churn()
    return session
  }

  /** The connection is gone (its close event): its slot is free; its session (if any) ends. */
  disconnected(session: Session | null): void {
    this.#openSockets--
    if (!session) return
    session.cleanup()
    this.#compaction?.churn()
  }

  /** Called by a session once it released everything (SessionHost). */
  released(session: Session): void {
    if (!this.#slices[sliceOf(session.id, this.#slices.length)]!.delete(session)) return
    this.#size--
    this.#pod.metrics.connections.dec()
    this.#pod.metrics.connectionsByTransport.dec({ transport: session.kind })
  }

  /**
   * The heartbeat: one timer for the whole pod (not one per socket), each tick one slice. A
   * connection that did not answer the previous ping is terminated, the others are pinged, and
   * the presence entries of the slice are extended in one Redis call.
   */
  startHeartbeat(): void {
    const tickMs = this.#pod.config.socket.heartbeatMs / this.#slices.length
    this.#heartbeat = setInterval(() => this.heartbeatTick(), tickMs)
    this.#heartbeat.unref()
  }

  /** One tick of the heartbeat: the next slice (the timer calls it; tests call it directly). */
  heartbeatTick(): void {
    const slice = this.#slices[this.#nextSlice]!
    this.#nextSlice = (this.#nextSlice + 1) % this.#slices.length
    const present: PresenceEntry[] = []
    for (const s of slice) {
      if (s.heartbeat() && s.present) present.push({ userId: s.userId, sessionId: s.id })
    }
    // a failed refresh is retried next interval: an entry lives 2.5 heartbeats
    if (present.length > 0) this.#pod.presence.refreshMany(present).catch(() => {})
  }

  stop(): void {
    clearInterval(this.#heartbeat)
    this.#compaction?.stop()
  }

  /**
   * Graceful drain: new connections are refused; every client is told `reconnect` (with its own
   * jittered `afterMs`) and closed 1012, spread evenly over `drainMs` in a random order so the
   * other pods are not hit by a thundering herd. One timer for the pod, not one per session.
   * Resolves when every session was told.
   */
  drain(drainMs: number, jitterMs: number): Promise<void> {
    this.#draining = true
    this.#pod.log.info({ sessions: this.size, drainMs }, 'draining')
    const all = this.#snapshot()
    if (all.length === 0) return Promise.resolve()
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[all[i], all[j]] = [all[j]!, all[i]!]
    }
    const steps = Math.max(1, Math.ceil(drainMs / DRAIN_STEP_MS))
    return new Promise((resolve) => {
      let step = 0
      let i = 0
      const next = () => {
        step++
        for (const end = Math.ceil((all.length * step) / steps); i < end; i++) {
          all[i]!.reconnect(Math.floor(Math.random() * jitterMs))
        }
        if (i < all.length) setTimeout(next, drainMs / steps)
        else resolve()
      }
      setTimeout(next, drainMs / steps)
    })
  }

  /** Every session holds its live messages until refreshAll() reaches it (Session.suspend). */
  suspendAll(): void {
    for (const slice of this.#slices) for (const s of slice) s.suspend()
  }

  /** Every session re-reads its inbox from its cursor (after pub/sub was down), in slices. */
  refreshAll(): void {
    this.#pod.metrics.resyncs.inc(this.#size)
    let slice = 0
    let batch: Session[] = []
    const next = () => {
      for (let n = 0; n < REFRESH_SLICE; n++) {
        while (batch.length === 0 && slice < this.#slices.length) batch = [...this.#slices[slice++]!]
        const s = batch.pop()
        if (!s) return
        s.refresh()
      }
      setTimeout(next, REFRESH_PAUSE_MS)
    }
    next()
  }

  #snapshot(): Session[] {
    return this.#slices.flatMap((slice) => [...slice])
  }

  /**
   * Redis pub/sub is at-most-once: while the subscriber connection is down, publishes are lost.
   * ioredis re-subscribes by itself when it reconnects; a PING answered after that proves the
   * subscriptions are back, and then every session re-reads its inbox from its cursor.
   */
  watchSubscriber(subscriber: RedisClient): void {
    const { log } = this.#pod
    let connectedBefore = false
    // sessions were told to hold their live messages (suspendAll) and wait for a re-read
    let suspended = false
    subscriber.on('ready', () => {
      const first = !connectedBefore
      connectedBefore = true
      // a first connection after failed tries re-reads too: sessions may have been held meanwhile
      if (first && !suspended) return
      suspended = false
      log.warn({ sessions: this.size }, 'pub/sub reconnected: re-reading the inboxes of open sessions')
      // held sessions must be refreshed whatever the PING says: their live messages wait for it
      subscriber
        .ping()
        .catch((err: unknown) => log.error({ err }, 'pub/sub ping after reconnect failed'))
        .then(() => this.refreshAll())
    })
    subscriber.on('reconnecting', () => {
      log.warn('pub/sub connection lost, reconnecting')
      suspended = true
      this.suspendAll()
    })
    // Redis Cluster: each shard has its own subscriber, re-created (and re-subscribed) by ioredis
    // after a failure, announced by 'subscribersReady' only. Its SSUBSCRIBEs are not awaited there,
    // so the inboxes are read once now and once a second later; a resync from the cursor never
    // sends anything twice.
    subscriber.on('subscribersReady', () => {
      log.warn(
        { sessions: this.size },
        'shard subscribers re-created: re-reading the inboxes of open sessions',
      )
      this.suspendAll()
      this.refreshAll()
      setTimeout(() => this.refreshAll(), 1000).unref()
    })
  }
}
