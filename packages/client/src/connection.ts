// The connection loop: opens a transport to a gateway, waits for `welcome`, watches the heartbeat, and
// after every close decides (close code, backoff, retry budget) when and where to try again. It owns
// the session and what is sent on it (acks, pings); frames go to `deps.frame`.
// (Closures rather than classes, here and in the other parts: minifiers shorten local names, not
// property names, and the browser bundle has a size budget.)
import { AckBatcher, AckPoster } from './acks.ts'
import { closePolicy } from './backoff.ts'
import type { TimerHandle } from './clock.ts'
import type { Emitter } from './emitter.ts'
import { TidingsError } from './errors.ts'
import type { ConnectionState, SessionInfo, StateEvent, TidingsEvents } from './events.ts'
import { createFailover } from './failover.ts'
import { TidingsGaveUpError } from './give-up.ts'
import type { ResolvedOptions } from './options.ts'
import { createPendingPings, type PendingPings } from './pings.ts'
import type { ResumePosition } from './resume.ts'
import { createRetrySchedule } from './retry-schedule.ts'
import { createTokenSource } from './token.ts'
import type { CloseInfo, Transport, TransportEvents, TransportKind } from './transport.ts'
import { createUpgradeProbe } from './upgrade-probe.ts'
import { createWaiters } from './waiters.ts'
import { createWatchdog } from './watchdog.ts'
import type { ServerFrame, WelcomeFrame } from './wire.ts'

export interface ConnectionDeps {
  emitter: Emitter<TidingsEvents>
  report: (error: TidingsError) => void
  resume: ResumePosition
  /** A frame from the current connection `gen` (a `reauth` answer must go to the same one). */
  frame: (frame: ServerFrame, gen: number) => void
  /** The client stopped for good (close, gave up): drop what still waits to be delivered. */
  stopped: () => void
}

export interface Connection {
  readonly acks: AckBatcher
  readonly pings: PendingPings
  readonly state: ConnectionState
  /** Connecting or connected (between `connect()` and a stop). */
  readonly running: boolean
  /** The live session (from `welcome` until the connection drops). */
  readonly session: Readonly<SessionInfo> | undefined
  /** The session's WebSocket, while a session is live on one (SSE cannot send). */
  readonly liveWebSocket: Transport | undefined
  /** Whether the latest attempt resumed from a stored position. */
  readonly resumedFromPosition: boolean
  /** Starts (re)connecting unless running; resolves on the next `welcome`, rejects on a stop. */
  connect(): Promise<void>
  /** While waiting out a backoff: try now. */
  reconnectNow(): void
  /** Replaces the live connection at once (no backoff). */
  restartNow(reason: string): void
  /** Stops for good: close() and giving up. Waiting connect() calls reject with `error`. */
  shutdown(reason: string, error: TidingsError): Promise<void>
  /** Waits for the storage writes and HTTP acks in flight. */
  settled(): Promise<void>
  // `welcome` opens the session in three steps (see dispatch.ts):
  /** `welcome` arrived: the session exists. False when no connection is live. */
  beginSession(frame: WelcomeFrame): boolean
  /** The session is usable: failure counters start over, the watchdog runs. */
  sessionOpened(): void
  /** Tells the app: state `open`, waiting connect() calls resolve. */
  announceOpen(): void
  /** The session now lives in `epoch` (after `missed`): acks are for it from here on. */
  adoptEpoch(epoch: string): void
  /** `reconnect {afterMs}`: the server restarts; ack now, and wait that long after the close. */
  restartHinted(afterMs: number): void
  /** `reauth`: a fresh token for connection `gen`, sent as `auth` (WebSocket) or used to reconnect (SSE). */
  reauthenticate(gen: number): Promise<void>
  ping(): Promise<number>
}

export function createConnection(opts: ResolvedOptions, deps: ConnectionDeps): Connection {
  const { clock } = opts
  const { emitter, report, resume } = deps
  let status: ConnectionState = 'idle'
  let active = false
  let transport: Transport | undefined
  let live: SessionInfo | undefined
  /** Bumped whenever a connection is dropped or replaced: callbacks of older ones are ignored. */
  let generation = 0
  let resumed = false
  let retryTimer: TimerHandle | undefined
  let connectTimer: TimerHandle | undefined
  const waiters = createWaiters()
  let stopWatchingNetwork: (() => void) | undefined
  const schedule = createRetrySchedule(opts.backoff, opts.maxRetries, clock, opts.random)
  const tokens = createTokenSource(opts.getToken)
  const failover = createFailover(opts, () => {
    if (transport) restartNow('retrying the WebSocket')
  })
  const watchdog = createWatchdog(
    clock,
    () => transport?.send({ type: 'ping' }),
    (silentMs) => {
      // two heartbeats without a frame: the connection is dead
      if (!transport) return
      const kind = transport.kind
      transport.close('heartbeat timeout')
      onClose({ code: 1006, reason: `no frame for ${silentMs} ms`, opened: true }, kind)
    },
  )
  const upgrades = createUpgradeProbe(opts.fetch, opts.network, clock, opts.connectTimeoutMs)
  const posts = new AckPoster(opts.fetch, report)
  const pings = createPendingPings(clock)

  const sendAck = (seq: number): boolean => {
    const position = resume.current
    if (!transport || !live || !position || position.epoch !== live.epoch) return false
    // the epoch makes the server ignore an ack that was sent just before an epoch change
    if (transport.kind === 'websocket') return transport.send({ type: 'ack', seq, epoch: live.epoch })
    const token = tokens.current
    if (!token) return false
    return posts.post(failover.gateway.ends.http, token, seq, live.epoch)
  }
  const acks = new AckBatcher(opts.ack, clock, sendAck)

  const clear = (handle: TimerHandle | undefined): undefined => {
    if (handle !== undefined) clock.clearTimeout(handle)
    return undefined
  }
  const setState = (event: StateEvent): void => {
    status = event.state
    void emitter.emit('state', event)
  }
  const armWatchdog = (): void => watchdog.arm(live?.heartbeatMs ?? 0)

  const start = (): void => {
    retryTimer = clear(retryTimer)
    schedule.starting()
    void attemptConnection(++generation)
  }

  const attemptConnection = async (gen: number): Promise<void> => {
    await resume.load()
    if (gen !== generation) return
    const kind = failover.kind
    setState({ state: 'connecting', transport: kind, attempt: schedule.attempt })
    let token = tokens.takeHandedOver()
    if (token === undefined) {
      try {
        token = await tokens.fetch(tokens.reason)
      } catch (e) {
        if (gen !== generation) return
        report(e as TidingsError)
        return retry({ code: 1006, reason: 'no token', opened: false }, kind)
      }
    }
    if (gen !== generation) return
    tokens.current = token
    resumed = resume.current !== null
    let socketOpened = false
    const events: TransportEvents = {
      open: () => {
        if (gen !== generation) return
        socketOpened = true
        if (kind === 'websocket') failover.webSocketOpened()
      },
      frame: (frame) => {
        if (gen === generation) deps.frame(frame, gen)
      },
      activity: () => {
        if (gen === generation) armWatchdog()
      },
      error: (e) => {
        if (gen === generation) report(e)
      },
      close: (info) => {
        if (gen === generation) onClose(info, kind)
      },
    }
    try {
      transport = failover.open(kind, token, resume.current, events)
    } catch (cause) {
      report(new TidingsError('transport', `cannot open the ${kind} connection`, { cause }))
      return onClose({ code: 1006, reason: 'cannot open', opened: false }, kind)
    }
    connectTimer = clock.setTimeout(() => {
      connectTimer = undefined
      if (gen !== generation) return
      transport?.close('connect timeout')
      onClose(
        { code: 1006, reason: 'timed out waiting for welcome', opened: socketOpened, timedOut: true },
        kind,
      )
    }, opts.connectTimeoutMs)
  }

  /** Drops the current transport (if any) and every per-connection timer and waiter. */
  const teardown = (reason: string): void => {
    transport?.close(reason)
    transport = undefined
    live = undefined
    connectTimer = clear(connectTimer)
    watchdog.stop()
    pings.cancel(reason)
  }

  const onClose = (info: CloseInfo, kind: TransportKind): void => {
    generation++
    teardown(info.reason || `closed ${info.code}`)
    // a refused upgrade is only 1006 here: ask the gateway why (unless SSE over fetch() will see it)
    const probing = failover.sseOverFetch
      ? undefined
      : upgrades.examine(info, kind, failover.gateway.ends.http, tokens.current)
    const gen = generation
    if (probing) void probing.then((found) => gen === generation && active && closed(found, kind))
    else closed(info, kind)
  }

  const closed = (info: CloseInfo, kind: TransportKind): void => {
    const policy = closePolicy(info.code)
    schedule.closed(policy)
    if (policy === 'revoked') {
      stopRevoked(info)
      return
    }
    if (policy === 'client_bug') {
      const message = `the server closed the connection with ${info.code} ${info.reason}`.trim()
      report(new TidingsError('client_bug', message, { closeCode: info.code }))
    }
    if (policy === 'reauth') tokens.rejected()
    failover.closed(info, kind)
    retry(info, kind, policy)
  }

  // Reconnecting would only present the revoked token again (refused): stop, and let the app
  // sign the user in again.
  const stopRevoked = (info: CloseInfo): void => {
    release()
    tokens.revoke()
    const error = new TidingsError('revoked', 'the server revoked this user’s sessions: sign in again', {
      closeCode: info.code,
    })
    waiters.rejectAll(error)
    setState({ state: 'closed', reason: 'revoked' })
    void emitter.emit('revoked', error)
    report(error)
  }

  const retry = (info: CloseInfo, kind: TransportKind, policy = closePolicy(info.code)): void => {
    if (!active) return
    const delayMs = schedule.next(policy, opts.network?.isOnline() === false)
    if (delayMs === undefined) {
      const error = new TidingsGaveUpError(
        schedule.failures,
        info.code,
        `${kind}: ${info.reason || info.code}`,
      )
      report(error)
      void shutdown('gave up', error)
      return
    }
    failover.nextGateway()
    setState({
      state: 'reconnecting',
      attempt: schedule.attempt,
      delayMs,
      code: info.code,
      reason: `${kind}: ${info.reason || `closed ${info.code}`}`,
    })
    retryTimer = clock.setTimeout(() => {
      retryTimer = undefined
      if (active) start()
    }, delayMs)
  }

  const onNetwork = (online: boolean): void => {
    // back online while waiting out a backoff: try now, with the backoff starting over
    if (!online || !active || retryTimer === undefined) return
    schedule.restart()
    start()
  }

  const restartNow = (reason: string): void => {
    acks.flush()
    generation++
    schedule.dropped()
    teardown(reason)
    start()
  }

  const settled = async (): Promise<void> => {
    for (;;) {
      const writing = resume.writing
      const posting = posts.idle()
      if (!writing && !posting) return
      await Promise.all([writing, posting])
    }
  }

  /** Stopping for good (close, gave up, revoked): no timer or listener outlives the client. */
  const release = (): void => {
    active = false
    stopWatchingNetwork?.()
    stopWatchingNetwork = undefined
    acks.dispose()
    retryTimer = clear(retryTimer)
    failover.stop()
    upgrades.cancel()
  }

  const shutdown = async (reason: string, error: TidingsError): Promise<void> => {
    const wasRunning = active
    acks.flush()
    release()
    generation++
    schedule.dropped()
    teardown(reason === 'client' ? 'client closed' : reason)
    deps.stopped()
    waiters.rejectAll(error)
    if (wasRunning) setState({ state: 'closed', reason })
    await settled()
  }

  return {
    acks,
    pings,
    get state() {
      return status
    },
    get running() {
      return active
    },
    get session() {
      return live
    },
    get liveWebSocket() {
      return live && transport?.kind === 'websocket' ? transport : undefined
    },
    get resumedFromPosition() {
      return resumed
    },
    connect() {
      if (status === 'open') return Promise.resolve()
      const p = waiters.wait()
      if (!active) {
        active = true
        schedule.begin()
        stopWatchingNetwork ??= opts.network?.subscribe(onNetwork)
        start()
      }
      return p
    },
    reconnectNow() {
      if (active && retryTimer !== undefined) start()
    },
    restartNow,
    shutdown,
    settled,
    beginSession(frame) {
      if (!transport) return false
      live = {
        url: failover.gateway.base,
        sessionId: frame.sessionId,
        userId: frame.userId,
        epoch: frame.epoch,
        heartbeatMs: frame.heartbeatMs,
        transport: transport.kind,
      }
      connectTimer = clear(connectTimer)
      return true
    },
    sessionOpened() {
      schedule.opened()
      tokens.accepted()
      acks.unconfirm()
      armWatchdog()
    },
    announceOpen() {
      if (!transport || !live) return
      setState({ state: 'open', transport: transport.kind, session: { ...live } })
      waiters.resolveAll()
    },
    adoptEpoch(epoch) {
      if (live) live.epoch = epoch
    },
    restartHinted(afterMs) {
      schedule.hint(afterMs)
      acks.flush()
    },
    async reauthenticate(gen) {
      let token: string
      try {
        token = await tokens.fetch('reauth')
      } catch (e) {
        // The server closes with 4001 when the token expires; the reconnect asks again.
        return report(e as TidingsError)
      }
      if (gen !== generation || !transport) return
      tokens.current = token
      if (transport.kind === 'websocket') transport.send({ type: 'auth', token })
      else {
        // SSE cannot carry an `auth` frame: reconnect with the fresh token.
        tokens.handOver(token)
        restartNow('token refresh')
      }
    },
    ping() {
      const ws = live && transport?.kind === 'websocket' ? transport : undefined
      if (!ws) return Promise.reject(new TidingsError('transport', 'ping needs an open WebSocket connection'))
      return pings.send(ws)
    },
  }
}
