import { AckBatcher, type AckOptions } from './acks.ts'
import { type BackoffOptions, closePolicy, DEFAULT_BACKOFF, reconnectDelay } from './backoff.ts'
import { type Clock, systemClock, type TimerHandle } from './clock.ts'
import { Emitter } from './emitter.ts'
import { TidingsError } from './errors.ts'
import { LruSet } from './lru.ts'
import { type EventSourceConstructor, type FetchLike, openEventSource, openFetchSse } from './sse.ts'
import { memoryStorage, parseResumeState, type ResumeState, type ResumeStorage } from './storage.ts'
import type { CloseInfo, Transport, TransportEvents, TransportKind } from './transport.ts'
import { endpoints, query } from './url.ts'
import { openWebSocket, type WebSocketConstructor } from './websocket.ts'
import {
  ACK_PATH,
  type BroadcastFrame,
  type MissedFrame,
  type NotificationFrame,
  type ServerFrame,
  SSE_PATH,
  TOPIC_PATTERN,
  WS_PATH,
} from './wire.ts'

/** Why the SDK asks for a token. */
export type TokenReason =
  /** a (re)connect: a cached token that is still valid is fine */
  | 'connect'
  /** the server sent `reauth`: the token expires within 60 s, return a fresh one */
  | 'reauth'
  /** the server refused the last token (close 4001 / HTTP 401): return a fresh one */
  | 'rejected'

export interface SseOptions {
  /**
   * `fetch`: stream `GET /v1/sse` with fetch() and an Authorization header (browsers, Node).
   * `eventsource`: `EventSource` with `?access_token=` (the token ends up in the URL).
   * `auto` (default): fetch, and EventSource where fetch cannot stream a body.
   */
  mode?: 'auto' | 'fetch' | 'eventsource'
  /** Fall back after this many WebSocket attempts in a row that never opened. Default 2. */
  afterFailures?: number
  /** While on SSE, try the WebSocket again after this long. Default 300 000 ms (5 min). */
  retryWebSocketMs?: number
}

export interface TidingsClientOptions {
  /** Gateway base URL: `wss://host` or `https://host`, optionally with a path prefix. Or use `urls`. */
  url?: string
  /**
   * Several equivalent gateway base URLs (pods, regions) instead of `url`. The first connection goes
   * to the first one; every reconnect after a close or a failed attempt moves on to the next one
   * (round robin), so a dead gateway costs one attempt. Shuffle the list to spread the load.
   */
  urls?: readonly string[]
  /** Returns the user's JWT. Called before every connection attempt and on `reauth`. */
  getToken: (request: { reason: TokenReason }) => string | Promise<string>
  /** Where `epoch` + `lastSeq` are kept between connections. Default: memory. */
  storage?: ResumeStorage
  /** Called once per new notification, in seq order; its promise is awaited before the ack. */
  onNotification?: (notification: NotificationFrame) => unknown
  /** Broadcast topics to join on every connection. */
  topics?: readonly string[]
  backoff?: BackoffOptions
  ack?: AckOptions
  /** Notification/broadcast ids remembered for dedupe. Default 1 000. */
  dedupeSize?: number
  /** Give up on an attempt that has not produced `welcome` within this long. Default 15 000 ms. */
  connectTimeoutMs?: number
  /** SSE fallback; `false` disables it. */
  sse?: false | SseOptions
  /** Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor
  /** Default `globalThis.fetch` (SSE fallback and its acks). */
  fetch?: FetchLike
  /** Default `globalThis.EventSource`. */
  EventSource?: EventSourceConstructor
  /** Default `Math.random` (jitter). */
  random?: () => number
  /** Default: the global timers and `Date.now`. */
  clock?: Clock
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface SessionInfo {
  /** The gateway base URL (from `url`/`urls`) this session is connected to. */
  url: string
  sessionId: string
  userId: string
  epoch: string
  heartbeatMs: number
  transport: TransportKind
}

export type StateEvent =
  | { state: 'connecting'; transport: TransportKind; attempt: number }
  | { state: 'open'; transport: TransportKind; session: SessionInfo }
  | { state: 'reconnecting'; attempt: number; delayMs: number; code: number; reason: string }
  | { state: 'closed'; reason: string }

export interface MissedEvent {
  /** Everything after this seq up to `nextSeq - 1` is gone (0 after an epoch change). */
  afterSeq: number
  nextSeq: number
  epoch: string
}

export interface TidingsEvents {
  notification: NotificationFrame
  broadcast: BroadcastFrame
  /** Notifications were lost: refetch the state the app cares about. */
  missed: MissedEvent
  state: StateEvent
  error: TidingsError
  /**
   * The server revoked the user's sessions (logout elsewhere, account locked; close 4003). The
   * client has stopped (state `closed`, reason `revoked`) and forgot its token: sign the user in
   * again, then call `connect()`.
   */
  revoked: TidingsError
}

export interface TidingsClient {
  readonly state: ConnectionState
  /** The live session, while `state` is `open`. */
  readonly session: SessionInfo | undefined
  readonly topics: readonly string[]
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof TidingsEvents>(event: K, listener: (payload: TidingsEvents[K]) => unknown): () => void
  /** Starts connecting (and reconnecting). Resolves on the first `welcome`; rejects if `close()` comes first. */
  connect(): Promise<void>
  /** Acks what was handled, closes, stops reconnecting and waits for storage writes. */
  close(): Promise<void>
  /** Joins a broadcast topic now (if connected) and after every reconnect. */
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  /** Sends an app-level `ping`; resolves with the round trip in ms. WebSocket only. */
  ping(): Promise<number>
  /**
   * Waits for the notifications already received to be handled, acks them now and waits for
   * storage writes (e.g. when the app goes to the background).
   */
  flush(): Promise<void>
  /** While waiting to reconnect, try now (e.g. the device came back online). */
  reconnect(): void
  /** Forgets the resume position (call it on logout); the next connection starts from the inbox. */
  resetResume(): Promise<void>
}

type Waiter<T> = { resolve: (v: T) => void; reject: (e: unknown) => void }
type QueueItem =
  | { type: 'welcome'; epoch: string; userId: string }
  | MissedFrame
  | NotificationFrame
  | BroadcastFrame

const topicRe = new RegExp(TOPIC_PATTERN)
const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function'

function baseUrls(options: TidingsClientOptions): string[] {
  if (options.url !== undefined && options.urls !== undefined) {
    throw new TypeError('pass either url or urls, not both')
  }
  const list = options.urls ?? (options.url === undefined ? [] : [options.url])
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('url (or a non-empty urls) is required')
  for (const u of list) if (typeof u !== 'string') throw new TypeError('urls must be strings')
  return [...list]
}

export function createTidingsClient(options: TidingsClientOptions): TidingsClient {
  if (typeof options.getToken !== 'function') throw new TypeError('getToken must be a function')
  const bases = baseUrls(options)
  const allEnds = bases.map(endpoints)
  let urlIndex = 0
  /** The endpoints (and base URL) of the latest attempt. */
  let ends = allEnds[0]!
  let base = bases[0]!
  const clock = options.clock ?? systemClock
  const random = options.random ?? Math.random
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff }
  const storage = options.storage ?? memoryStorage()
  const connectTimeoutMs = options.connectTimeoutMs ?? 15_000
  const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch
  const fetchFn: FetchLike | undefined =
    options.fetch ?? (globalFetch ? (u, i) => globalFetch(u, i) : undefined)
  const ES = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource
  const sseOpts = options.sse === false ? undefined : (options.sse ?? {})
  let sseMode = sseOpts?.mode ?? 'auto'
  const sseAfterFailures = Math.max(1, sseOpts?.afterFailures ?? 2)
  const retryWebSocketMs = sseOpts?.retryWebSocketMs ?? 300_000
  const sseAvailable = (): boolean =>
    sseOpts !== undefined && ((sseMode !== 'eventsource' && !!fetchFn) || (sseMode !== 'fetch' && !!ES))
  if (!WS && !sseAvailable()) throw new TypeError('no WebSocket in this environment; pass one in options')

  const emitter = new Emitter<TidingsEvents>((error, event) => {
    if (event !== 'error')
      report(new TidingsError('handler', `a '${String(event)}' listener threw`, { cause: error }))
  })
  const report = (error: TidingsError): void => {
    void emitter.emit('error', error)
  }

  // ---- resume position ----
  let position: ResumeState | null = null
  let loaded: Promise<void> | undefined
  let writing: Promise<void> | undefined
  let dirty = false
  const persist = (): void => {
    dirty = true
    writing ??= (async () => {
      try {
        while (dirty) {
          dirty = false
          const snapshot = position ? { ...position } : null
          try {
            await (snapshot ? storage.save(snapshot) : storage.clear())
          } catch (cause) {
            report(new TidingsError('storage', 'saving the resume position failed', { cause }))
          }
        }
      } finally {
        writing = undefined
      }
    })()
  }
  const load = async (): Promise<void> => {
    try {
      position = parseResumeState(await storage.load())
    } catch (cause) {
      report(new TidingsError('storage', 'loading the resume position failed', { cause }))
    }
  }

  // ---- connection ----
  let state: ConnectionState = 'idle'
  let running = false
  let transport: Transport | undefined
  let nextKind: TransportKind = WS ? 'websocket' : 'sse'
  let session: SessionInfo | undefined
  let generation = 0
  let attempt = 0
  let unauthorizedStreak = 0
  let wsFailures = 0
  let hintMs: number | undefined
  let openedAt: number | undefined
  let token: string | undefined
  let presetToken: string | undefined
  let tokenReason: TokenReason = 'connect'
  let resumedFrom: ResumeState | null = null
  let retryTimer: TimerHandle | undefined
  let connectTimer: TimerHandle | undefined
  let watchdogTimer: TimerHandle | undefined
  let wsRetryTimer: TimerHandle | undefined
  let connectWaiters: Waiter<void>[] = []
  let pings: Array<Waiter<number> & { sentAt: number }> = []
  const pendingPosts = new Set<Promise<void>>()
  const topics = new Set<string>()
  const seen = new LruSet(options.dedupeSize ?? 1000)
  const queue: QueueItem[] = []
  let draining: Promise<void> | undefined

  const clear = (handle: TimerHandle | undefined): undefined => {
    if (handle !== undefined) clock.clearTimeout(handle)
    return undefined
  }
  const setState = (event: StateEvent): void => {
    state = event.state
    void emitter.emit('state', event)
  }

  const sendAck = (seq: number): boolean => {
    if (!transport || !session || !position || position.epoch !== session.epoch) return false
    // the epoch makes the server ignore an ack that was sent just before an epoch change
    if (transport.kind === 'websocket') return transport.send({ type: 'ack', seq, epoch: session.epoch })
    if (!fetchFn || !token) return false
    const post = fetchFn(ends.http + ACK_PATH, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      // the epoch makes the server ignore an ack that belongs to a sequence it no longer has
      body: JSON.stringify({ seq, epoch: session.epoch }),
    }).then(
      (res) => {
        if (!res.ok) report(new TidingsError('transport', `POST ${ACK_PATH} answered HTTP ${res.status}`))
      },
      (cause: unknown) => report(new TidingsError('transport', `POST ${ACK_PATH} failed`, { cause })),
    )
    pendingPosts.add(post)
    void post.finally(() => pendingPosts.delete(post))
    return true
  }
  const acker = new AckBatcher(options.ack ?? {}, clock, sendAck)

  const getToken = async (reason: TokenReason): Promise<string> => {
    let t: unknown
    try {
      t = await options.getToken({ reason })
    } catch (cause) {
      throw new TidingsError('token', 'getToken() failed', { cause })
    }
    if (typeof t !== 'string' || t === '') throw new TidingsError('token', 'getToken() returned no token')
    return t
  }

  const start = (): void => {
    retryTimer = clear(retryTimer)
    hintMs = undefined
    void attemptConnection(++generation)
  }

  const attemptConnection = async (gen: number): Promise<void> => {
    loaded ??= load()
    await loaded
    if (gen !== generation) return
    const kind = nextKind
    setState({ state: 'connecting', transport: kind, attempt })
    let t = presetToken
    presetToken = undefined
    if (t === undefined) {
      try {
        t = await getToken(tokenReason)
      } catch (e) {
        if (gen !== generation) return
        report(e as TidingsError)
        return retry({ code: 1006, reason: 'no token', opened: false }, kind)
      }
    }
    if (gen !== generation) return
    token = t
    ends = allEnds[urlIndex]!
    base = bases[urlIndex]!
    resumedFrom = position && { ...position }
    const resume = position ? { lastSeq: position.lastSeq, epoch: position.epoch } : {}
    let socketOpened = false
    const events: TransportEvents = {
      open: () => {
        if (gen !== generation) return
        socketOpened = true
        if (kind === 'websocket') wsFailures = 0
      },
      frame: (frame) => {
        if (gen === generation) onFrame(frame, gen)
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
      if (kind === 'websocket') {
        transport = openWebSocket(WS!, ends.ws + WS_PATH + query(resume), t, events)
      } else if (sseMode !== 'eventsource' && fetchFn) {
        const lastEventId = position ? `${position.epoch}:${position.lastSeq}` : undefined
        transport = openFetchSse(fetchFn, ends.http + SSE_PATH + query(resume), t, lastEventId, events)
      } else {
        transport = openEventSource(ES!, ends.http + SSE_PATH + query({ ...resume, access_token: t }), events)
      }
    } catch (cause) {
      report(new TidingsError('transport', `cannot open the ${kind} connection`, { cause }))
      return onClose({ code: 1006, reason: 'cannot open', opened: false }, kind)
    }
    connectTimer = clock.setTimeout(() => {
      connectTimer = undefined
      if (gen !== generation) return
      transport?.close('connect timeout')
      onClose({ code: 1006, reason: 'timed out waiting for welcome', opened: socketOpened }, kind)
    }, connectTimeoutMs)
  }

  /** Drops the current transport (if any) and every per-connection timer and waiter. */
  const teardown = (reason: string): void => {
    transport?.close(reason)
    transport = undefined
    session = undefined
    connectTimer = clear(connectTimer)
    watchdogTimer = clear(watchdogTimer)
    const error = new TidingsError('transport', `connection closed: ${reason}`)
    for (const p of pings) p.reject(error)
    pings = []
  }

  const onClose = (info: CloseInfo, kind: TransportKind): void => {
    generation++
    const lived = openedAt === undefined ? -1 : clock.now() - openedAt
    openedAt = undefined
    teardown(info.reason || `closed ${info.code}`)
    if (lived >= backoff.resetAfterMs) attempt = 0
    const policy = closePolicy(info.code)
    if (policy === 'revoked') {
      stopRevoked(info)
      return
    }
    if (policy === 'client_bug') {
      report(
        new TidingsError(
          'client_bug',
          `the server closed the connection with ${info.code} ${info.reason}`.trim(),
          {
            closeCode: info.code,
          },
        ),
      )
    }
    if (policy === 'reauth') {
      unauthorizedStreak++
      tokenReason = 'rejected'
    }
    if (kind === 'websocket') {
      wsFailures = info.opened ? 0 : wsFailures + 1
      if (wsFailures >= sseAfterFailures && sseAvailable()) switchTo('sse')
    } else if (info.unsupported) {
      sseMode = 'eventsource'
      if (!sseAvailable() && WS) switchTo('websocket')
    } else if (info.network && WS) {
      // Neither transport reaches the server: probably offline, alternate between the two.
      wsFailures = sseAfterFailures - 1
      switchTo('websocket')
    }
    retry(info, kind, policy)
  }

  // Reconnecting would only present the revoked token again (refused): stop, and let the app
  // sign the user in again.
  const stopRevoked = (info: CloseInfo): void => {
    running = false
    retryTimer = clear(retryTimer)
    wsRetryTimer = clear(wsRetryTimer)
    token = undefined
    presetToken = undefined
    tokenReason = 'rejected'
    const error = new TidingsError('revoked', 'the server revoked this user’s sessions: sign in again', {
      closeCode: info.code,
    })
    const waiters = connectWaiters
    connectWaiters = []
    for (const w of waiters) w.reject(error)
    setState({ state: 'closed', reason: 'revoked' })
    void emitter.emit('revoked', error)
    report(error)
  }

  const retry = (info: CloseInfo, kind: TransportKind, policy = closePolicy(info.code)): void => {
    if (!running) return
    // gateways are interchangeable: whatever went wrong with this one, the next attempt tries another
    urlIndex = (urlIndex + 1) % allEnds.length
    const delayMs = reconnectDelay({ policy, attempt, hintMs, unauthorizedStreak }, backoff, random)
    hintMs = undefined
    attempt++
    setState({
      state: 'reconnecting',
      attempt,
      delayMs,
      code: info.code,
      reason: `${kind}: ${info.reason || `closed ${info.code}`}`,
    })
    retryTimer = clock.setTimeout(() => {
      retryTimer = undefined
      if (running) start()
    }, delayMs)
  }

  const switchTo = (kind: TransportKind): void => {
    nextKind = kind
    wsRetryTimer = clear(wsRetryTimer)
    if (kind !== 'sse' || !WS) return
    wsRetryTimer = clock.setTimeout(() => {
      wsRetryTimer = undefined
      if (!running || nextKind !== 'sse') return
      nextKind = 'websocket'
      wsFailures = sseAfterFailures - 1 // one failed WebSocket attempt is enough to come back to SSE
      if (transport) restartNow('retrying the WebSocket')
    }, retryWebSocketMs)
  }

  /** Replaces a live connection at once (no backoff). */
  const restartNow = (reason: string): void => {
    acker.flush()
    generation++
    openedAt = undefined
    teardown(reason)
    start()
  }

  const armWatchdog = (): void => {
    watchdogTimer = clear(watchdogTimer)
    const hb = session?.heartbeatMs ?? 0
    if (!(hb > 0)) return
    // Silence for one heartbeat: ask for a pong. For two: the connection is dead.
    watchdogTimer = clock.setTimeout(() => {
      transport?.send({ type: 'ping' })
      watchdogTimer = clock.setTimeout(() => {
        watchdogTimer = undefined
        if (!transport) return
        const kind = transport.kind
        transport.close('heartbeat timeout')
        onClose({ code: 1006, reason: `no frame for ${2 * hb} ms`, opened: true }, kind)
      }, hb)
    }, hb)
  }

  const onFrame = (frame: ServerFrame, gen: number): void => {
    switch (frame.type) {
      case 'welcome': {
        if (!transport) return
        session = {
          url: base,
          sessionId: frame.sessionId,
          userId: frame.userId,
          epoch: frame.epoch,
          heartbeatMs: frame.heartbeatMs,
          transport: transport.kind,
        }
        connectTimer = clear(connectTimer)
        if (position?.userId !== undefined && position.userId !== frame.userId) {
          // The stored position belongs to someone else (no resetResume() at logout).
          position = null
          persist()
          acker.reset()
          seen.clear()
          queue.length = 0
          if (resumedFrom) {
            restartNow('resume position of another user')
            return
          }
        }
        openedAt = clock.now()
        unauthorizedStreak = 0
        tokenReason = 'connect'
        acker.unconfirm()
        if (transport.kind === 'websocket')
          for (const topic of topics) transport.send({ type: 'subscribe', topic })
        armWatchdog()
        enqueue({ type: 'welcome', epoch: frame.epoch, userId: frame.userId })
        setState({ state: 'open', transport: transport.kind, session: { ...session } })
        const waiters = connectWaiters
        connectWaiters = []
        for (const w of waiters) w.resolve()
        return
      }
      case 'missed':
      case 'notification':
      case 'broadcast':
        enqueue(frame)
        return
      case 'reauth':
        void refreshToken(gen)
        return
      case 'pong': {
        const p = pings.shift()
        p?.resolve(clock.now() - p.sentAt)
        return
      }
      case 'error':
        report(
          new TidingsError('server', `server error ${frame.code}: ${frame.message}`, {
            serverCode: frame.code,
          }),
        )
        return
      case 'reconnect':
        hintMs = frame.afterMs
        acker.flush()
        return
      default:
        // subscribed / unsubscribed / authenticated, and frame types from a newer gateway.
        return
    }
  }

  const refreshToken = async (gen: number): Promise<void> => {
    let t: string
    try {
      t = await getToken('reauth')
    } catch (e) {
      // The server closes with 4001 when the token expires; the reconnect asks again.
      return report(e as TidingsError)
    }
    if (gen !== generation || !transport) return
    token = t
    if (transport.kind === 'websocket') transport.send({ type: 'auth', token: t })
    else {
      // SSE cannot carry an `auth` frame: reconnect with the fresh token.
      presetToken = t
      restartNow('token refresh')
    }
  }

  const enqueue = (item: QueueItem): void => {
    queue.push(item)
    draining ??= drain()
  }

  const drain = async (): Promise<void> => {
    try {
      for (let item = queue.shift(); item; item = queue.shift()) await processItem(item)
    } finally {
      draining = undefined
    }
  }

  const processItem = async (item: QueueItem): Promise<void> => {
    switch (item.type) {
      case 'welcome':
        return adoptEpoch(item.epoch, item.userId, true)
      case 'missed':
        adoptEpoch(item.epoch, session?.userId, false)
        // the session now lives in this epoch: acks are for it from here on
        if (session) session.epoch = item.epoch
        // the server went back (writes lost in a failover): what follows may reuse seqs
        if (position && item.afterSeq < position.lastSeq) {
          position.lastSeq = item.afterSeq
          acker.reset()
          persist()
        }
        void emitter.emit('missed', { afterSeq: item.afterSeq, nextSeq: item.nextSeq, epoch: item.epoch })
        return
      case 'broadcast':
        if (seen.add(`b:${item.id}`)) void emitter.emit('broadcast', item)
        return
      case 'notification': {
        position ??= { epoch: session?.epoch ?? '', lastSeq: 0 }
        if (item.seq <= position.lastSeq) return // replayed again: already handled
        if (seen.add(`n:${item.id}`)) await handle(item)
        // position may have been reset (resetResume, another user) while the handler ran
        if (!position || item.seq <= position.lastSeq) return
        position.lastSeq = item.seq
        persist()
        if (running) acker.handled(item.seq)
        return
      }
    }
  }

  const adoptEpoch = (epoch: string, userId: string | undefined, welcome: boolean): void => {
    if (!position || position.epoch !== epoch) {
      // A new life of the user's sequence: a lastSeq from another epoch means nothing.
      position = { epoch, lastSeq: 0 }
      acker.reset()
    } else if (welcome && position.lastSeq > 0) {
      acker.restore(position.lastSeq)
      acker.flush()
    }
    if (userId !== undefined) position.userId = userId
    persist()
  }

  const handle = async (n: NotificationFrame): Promise<void> => {
    try {
      const r = options.onNotification?.(n)
      if (isThenable(r)) await r
    } catch (cause) {
      report(new TidingsError('handler', `onNotification threw for ${n.id}`, { cause }))
    }
    await emitter.emit('notification', n)
  }

  for (const topic of options.topics ?? []) {
    if (!topicRe.test(topic)) throw new TypeError(`invalid topic name: ${topic}`)
    topics.add(topic)
  }

  const settle = async (): Promise<void> => {
    while (writing || pendingPosts.size > 0) await Promise.all([writing, ...pendingPosts])
  }

  return {
    get state() {
      return state
    },
    get session() {
      return session && state === 'open' ? { ...session } : undefined
    },
    get topics() {
      return [...topics]
    },
    on: (event, listener) => emitter.on(event, listener),
    connect() {
      if (state === 'open') return Promise.resolve()
      const p = new Promise<void>((resolve, reject) => connectWaiters.push({ resolve, reject }))
      // Fire-and-forget callers must not get an unhandled rejection; awaiting callers still see it.
      p.catch(() => undefined)
      if (!running) {
        running = true
        attempt = 0
        start()
      }
      return p
    },
    async close() {
      const wasRunning = running
      running = false
      acker.flush()
      acker.dispose()
      generation++
      openedAt = undefined
      retryTimer = clear(retryTimer)
      wsRetryTimer = clear(wsRetryTimer)
      teardown('client closed')
      queue.length = 0
      const waiters = connectWaiters
      connectWaiters = []
      for (const w of waiters) w.reject(new TidingsError('transport', 'closed before the connection opened'))
      if (wasRunning) setState({ state: 'closed', reason: 'client' })
      await settle()
    },
    subscribe(topic) {
      if (!topicRe.test(topic)) throw new TypeError(`invalid topic name: ${topic}`)
      if (topics.has(topic)) return
      topics.add(topic)
      if (session && transport?.kind === 'websocket') transport.send({ type: 'subscribe', topic })
    },
    unsubscribe(topic) {
      if (!topics.delete(topic)) return
      if (session && transport?.kind === 'websocket') transport.send({ type: 'unsubscribe', topic })
    },
    ping() {
      if (!session || transport?.kind !== 'websocket') {
        return Promise.reject(new TidingsError('transport', 'ping needs an open WebSocket connection'))
      }
      const sentAt = clock.now()
      if (!transport.send({ type: 'ping' })) {
        return Promise.reject(new TidingsError('transport', 'ping could not be sent'))
      }
      return new Promise<number>((resolve, reject) => pings.push({ resolve, reject, sentAt }))
    },
    async flush() {
      await draining
      acker.flush()
      await settle()
    },
    reconnect() {
      if (running && retryTimer !== undefined) start()
    },
    async resetResume() {
      position = null
      acker.reset()
      seen.clear()
      persist()
      await settle()
    },
  }
}
