// The connection loop: opens a transport to a gateway, waits for `welcome`, watches the heartbeat, and
// after every close decides (close code, backoff, retry budget) when and where to try again. It owns
// the session and what is sent on it (acks, pings); frames go to `deps.frame`.
import { AckBatcher, AckPoster } from './acks.ts'
import { closePolicy } from './backoff.ts'
import type { TimerHandle } from './clock.ts'
import type { Emitter } from './emitter.ts'
import { TidingsError } from './errors.ts'
import type { ConnectionState, SessionInfo, StateEvent, TidingsEvents } from './events.ts'
import { Failover } from './failover.ts'
import { TidingsGaveUpError } from './give-up.ts'
import type { ResolvedOptions } from './options.ts'
import { PendingPings } from './pings.ts'
import type { ResumePosition } from './resume.ts'
import { RetrySchedule } from './retry-schedule.ts'
import { TokenSource } from './token.ts'
import type { CloseInfo, Transport, TransportEvents, TransportKind } from './transport.ts'
import { Watchdog } from './watchdog.ts'
import type { ServerFrame, WelcomeFrame } from './wire.ts'

type Waiter = { resolve: () => void; reject: (e: unknown) => void }

export interface ConnectionDeps {
  emitter: Emitter<TidingsEvents>
  report: (error: TidingsError) => void
  resume: ResumePosition
  /** A frame from the current connection `gen` (a `reauth` answer must go to the same one). */
  frame: (frame: ServerFrame, gen: number) => void
  /** The client stopped for good (close, gave up): drop what still waits to be delivered. */
  stopped: () => void
}

export class Connection {
  readonly acks: AckBatcher
  readonly pings: PendingPings
  private status: ConnectionState = 'idle'
  private active = false
  private transport: Transport | undefined
  private live: SessionInfo | undefined
  /** Bumped whenever a connection is dropped or replaced: callbacks of older ones are ignored. */
  private generation = 0
  private resumed = false
  private retryTimer: TimerHandle | undefined
  private connectTimer: TimerHandle | undefined
  private connectWaiters: Waiter[] = []
  private stopWatchingNetwork: (() => void) | undefined
  private readonly schedule: RetrySchedule
  private readonly tokens: TokenSource
  private readonly failover: Failover
  private readonly watchdog: Watchdog
  private readonly posts: AckPoster
  private readonly opts: ResolvedOptions
  private readonly deps: ConnectionDeps

  constructor(opts: ResolvedOptions, deps: ConnectionDeps) {
    this.opts = opts
    this.deps = deps
    this.schedule = new RetrySchedule(opts.backoff, opts.maxRetries, opts.clock, opts.random)
    this.tokens = new TokenSource(opts.getToken)
    this.failover = new Failover(opts, () => {
      if (this.transport) this.restartNow('retrying the WebSocket')
    })
    this.watchdog = new Watchdog(
      opts.clock,
      () => this.transport?.send({ type: 'ping' }),
      (silentMs) => this.onSilence(silentMs),
    )
    this.posts = new AckPoster(opts.fetch, deps.report)
    this.pings = new PendingPings(opts.clock)
    this.acks = new AckBatcher(opts.ack, opts.clock, (seq) => this.sendAck(seq))
  }

  get state(): ConnectionState {
    return this.status
  }
  /** Connecting or connected (between `connect()` and a stop). */
  get running(): boolean {
    return this.active
  }
  /** The live session (from `welcome` until the connection drops). */
  get session(): Readonly<SessionInfo> | undefined {
    return this.live
  }
  /** Whether the latest attempt resumed from a stored position. */
  get resumedFromPosition(): boolean {
    return this.resumed
  }
  /** The session's WebSocket, while a session is live on one (SSE cannot send). */
  get liveWebSocket(): Transport | undefined {
    return this.live && this.transport?.kind === 'websocket' ? this.transport : undefined
  }

  /** Starts (re)connecting unless running; resolves on the next `welcome`, rejects on a stop. */
  connect(): Promise<void> {
    if (this.status === 'open') return Promise.resolve()
    const p = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }))
    // Fire-and-forget callers must not get an unhandled rejection; awaiting callers still see it.
    p.catch(() => undefined)
    if (!this.active) {
      this.active = true
      this.schedule.attempt = 0
      this.stopWatchingNetwork ??= this.opts.network?.subscribe((online) => this.onNetwork(online))
      this.start()
    }
    return p
  }

  /** While waiting out a backoff: try now. */
  reconnectNow(): void {
    if (this.active && this.retryTimer !== undefined) this.start()
  }

  /** Replaces the live connection at once (no backoff). */
  restartNow(reason: string): void {
    this.acks.flush()
    this.generation++
    this.schedule.dropped()
    this.teardown(reason)
    this.start()
  }

  /** Stops for good: close() and giving up. Waiting connect() calls reject with `error`. */
  async shutdown(reason: string, error: TidingsError): Promise<void> {
    const wasRunning = this.active
    this.active = false
    this.stopWatchingNetwork?.()
    this.stopWatchingNetwork = undefined
    this.acks.flush()
    this.acks.dispose()
    this.generation++
    this.schedule.dropped()
    this.retryTimer = this.clear(this.retryTimer)
    this.failover.stop()
    this.teardown(reason === 'client' ? 'client closed' : reason)
    this.deps.stopped()
    this.rejectWaiters(error)
    if (wasRunning) this.setState({ state: 'closed', reason })
    await this.settled()
  }

  /** Waits for the storage writes and HTTP acks in flight. */
  async settled(): Promise<void> {
    for (;;) {
      const writing = this.deps.resume.writing
      const posting = this.posts.idle()
      if (!writing && !posting) return
      await Promise.all([writing, posting])
    }
  }

  // ---- the session: `welcome` arrives in three steps (see dispatch.ts) ----

  /** `welcome` arrived: the session exists. False when no connection is live. */
  beginSession(frame: WelcomeFrame): boolean {
    const transport = this.transport
    if (!transport) return false
    this.live = {
      url: this.failover.gateway.base,
      sessionId: frame.sessionId,
      userId: frame.userId,
      epoch: frame.epoch,
      heartbeatMs: frame.heartbeatMs,
      transport: transport.kind,
    }
    this.connectTimer = this.clear(this.connectTimer)
    return true
  }

  /** The session is usable: failure counters start over, the watchdog runs. */
  sessionOpened(): void {
    this.schedule.opened()
    this.tokens.accepted()
    this.acks.unconfirm()
    this.armWatchdog()
  }

  /** Tells the app: state `open`, waiting connect() calls resolve. */
  announceOpen(): void {
    if (!this.transport || !this.live) return
    this.setState({ state: 'open', transport: this.transport.kind, session: { ...this.live } })
    const waiters = this.connectWaiters
    this.connectWaiters = []
    for (const w of waiters) w.resolve()
  }

  /** The session now lives in `epoch` (after `missed`): acks are for it from here on. */
  adoptEpoch(epoch: string): void {
    if (this.live) this.live.epoch = epoch
  }

  /** `reconnect {afterMs}`: the server restarts; ack now, and wait that long after the close. */
  restartHinted(afterMs: number): void {
    this.schedule.hint(afterMs)
    this.acks.flush()
  }

  /** `reauth`: a fresh token for connection `gen`, sent as `auth` (WebSocket) or used to reconnect (SSE). */
  async reauthenticate(gen: number): Promise<void> {
    let token: string
    try {
      token = await this.tokens.fetch('reauth')
    } catch (e) {
      // The server closes with 4001 when the token expires; the reconnect asks again.
      return this.deps.report(e as TidingsError)
    }
    if (gen !== this.generation || !this.transport) return
    this.tokens.current = token
    if (this.transport.kind === 'websocket') this.transport.send({ type: 'auth', token })
    else {
      // SSE cannot carry an `auth` frame: reconnect with the fresh token.
      this.tokens.handOver(token)
      this.restartNow('token refresh')
    }
  }

  ping(): Promise<number> {
    const ws = this.liveWebSocket
    if (!ws) return Promise.reject(new TidingsError('transport', 'ping needs an open WebSocket connection'))
    return this.pings.send(ws)
  }

  // ---- the loop ----

  private start(): void {
    this.retryTimer = this.clear(this.retryTimer)
    this.schedule.starting()
    void this.attemptConnection(++this.generation)
  }

  private async attemptConnection(gen: number): Promise<void> {
    const { resume, report } = this.deps
    await resume.load()
    if (gen !== this.generation) return
    const kind = this.failover.kind
    this.setState({ state: 'connecting', transport: kind, attempt: this.schedule.attempt })
    let token = this.tokens.takeHandedOver()
    if (token === undefined) {
      try {
        token = await this.tokens.fetch(this.tokens.reason)
      } catch (e) {
        if (gen !== this.generation) return
        report(e as TidingsError)
        return this.retry({ code: 1006, reason: 'no token', opened: false }, kind)
      }
    }
    if (gen !== this.generation) return
    this.tokens.current = token
    this.resumed = resume.current !== null
    let socketOpened = false
    const events: TransportEvents = {
      open: () => {
        if (gen !== this.generation) return
        socketOpened = true
        if (kind === 'websocket') this.failover.webSocketOpened()
      },
      frame: (frame) => {
        if (gen === this.generation) this.deps.frame(frame, gen)
      },
      activity: () => {
        if (gen === this.generation) this.armWatchdog()
      },
      error: (e) => {
        if (gen === this.generation) report(e)
      },
      close: (info) => {
        if (gen === this.generation) this.onClose(info, kind)
      },
    }
    try {
      this.transport = this.failover.open(kind, token, resume.current, events)
    } catch (cause) {
      report(new TidingsError('transport', `cannot open the ${kind} connection`, { cause }))
      return this.onClose({ code: 1006, reason: 'cannot open', opened: false }, kind)
    }
    this.connectTimer = this.opts.clock.setTimeout(() => {
      this.connectTimer = undefined
      if (gen !== this.generation) return
      this.transport?.close('connect timeout')
      this.onClose({ code: 1006, reason: 'timed out waiting for welcome', opened: socketOpened }, kind)
    }, this.opts.connectTimeoutMs)
  }

  /** Drops the current transport (if any) and every per-connection timer and waiter. */
  private teardown(reason: string): void {
    this.transport?.close(reason)
    this.transport = undefined
    this.live = undefined
    this.connectTimer = this.clear(this.connectTimer)
    this.watchdog.stop()
    this.pings.cancel(reason)
  }

  private onClose(info: CloseInfo, kind: TransportKind): void {
    this.generation++
    const policy = closePolicy(info.code)
    this.schedule.closed(policy)
    this.teardown(info.reason || `closed ${info.code}`)
    if (policy === 'revoked') {
      this.stopRevoked(info)
      return
    }
    if (policy === 'client_bug') {
      const message = `the server closed the connection with ${info.code} ${info.reason}`.trim()
      this.deps.report(new TidingsError('client_bug', message, { closeCode: info.code }))
    }
    if (policy === 'reauth') this.tokens.rejected()
    this.failover.closed(info, kind)
    this.retry(info, kind, policy)
  }

  // Reconnecting would only present the revoked token again (refused): stop, and let the app
  // sign the user in again.
  private stopRevoked(info: CloseInfo): void {
    this.active = false
    this.retryTimer = this.clear(this.retryTimer)
    this.failover.stop()
    this.tokens.revoke()
    const error = new TidingsError('revoked', 'the server revoked this user’s sessions: sign in again', {
      closeCode: info.code,
    })
    this.rejectWaiters(error)
    this.setState({ state: 'closed', reason: 'revoked' })
    void this.deps.emitter.emit('revoked', error)
    this.deps.report(error)
  }

  private retry(info: CloseInfo, kind: TransportKind, policy = closePolicy(info.code)): void {
    if (!this.active) return
    const delayMs = this.schedule.next(policy, this.opts.network?.isOnline() === false)
    if (delayMs === undefined) {
      const reason = `${kind}: ${info.reason || info.code}`
      const error = new TidingsGaveUpError(this.schedule.failures, info.code, reason)
      this.deps.report(error)
      void this.shutdown('gave up', error)
      return
    }
    this.failover.nextGateway()
    this.setState({
      state: 'reconnecting',
      attempt: this.schedule.attempt,
      delayMs,
      code: info.code,
      reason: `${kind}: ${info.reason || `closed ${info.code}`}`,
    })
    this.retryTimer = this.opts.clock.setTimeout(() => {
      this.retryTimer = undefined
      if (this.active) this.start()
    }, delayMs)
  }

  private armWatchdog(): void {
    this.watchdog.arm(this.live?.heartbeatMs ?? 0)
  }

  /** Two heartbeats without a frame: the connection is dead. */
  private onSilence(silentMs: number): void {
    const transport = this.transport
    if (!transport) return
    transport.close('heartbeat timeout')
    this.onClose({ code: 1006, reason: `no frame for ${silentMs} ms`, opened: true }, transport.kind)
  }

  private onNetwork(online: boolean): void {
    // back online while waiting out a backoff: try now, with the backoff starting over
    if (!online || !this.active || this.retryTimer === undefined) return
    this.schedule.attempt = 0
    this.start()
  }

  private sendAck(seq: number): boolean {
    const { transport, live } = this
    const position = this.deps.resume.current
    if (!transport || !live || !position || position.epoch !== live.epoch) return false
    // the epoch makes the server ignore an ack that was sent just before an epoch change
    if (transport.kind === 'websocket') return transport.send({ type: 'ack', seq, epoch: live.epoch })
    const token = this.tokens.current
    if (!token) return false
    return this.posts.post(this.failover.gateway.ends.http, token, seq, live.epoch)
  }

  private rejectWaiters(error: TidingsError): void {
    const waiters = this.connectWaiters
    this.connectWaiters = []
    for (const w of waiters) w.reject(error)
  }

  private setState(event: StateEvent): void {
    this.status = event.state
    void this.deps.emitter.emit('state', event)
  }

  private clear(handle: TimerHandle | undefined): undefined {
    if (handle !== undefined) this.opts.clock.clearTimeout(handle)
    return undefined
  }
}
