// The client's options: what the app may pass, and their validated form with every default filled in.
import type { AckOptions } from './acks.ts'
import { type BackoffOptions, DEFAULT_BACKOFF, type ResolvedBackoff } from './backoff.ts'
import { type Clock, systemClock } from './clock.ts'
import { checkMaxRetries } from './give-up.ts'
import { browserNetwork, type NetworkMonitor } from './network.ts'
import type { EventSourceConstructor, FetchLike } from './sse.ts'
import { memoryStorage, type ResumeStorage } from './storage.ts'
import type { GetToken } from './token.ts'
import { checkTopic } from './topics.ts'
import { type Endpoints, endpoints } from './url.ts'
import type { WebSocketConstructor } from './websocket.ts'
import type { NotificationFrame } from './wire.ts'

export interface SseOptions {
  /**
   * `fetch`: stream `GET /v1/sse` with fetch() and an Authorization header (browsers, Node).
   * `eventsource`: `EventSource` with `?access_token=` (the token ends up in the URL).
   * `auto` (default): fetch, and EventSource where fetch cannot stream a body: when a response has
   * no readable body, or a first attempt has no response by `connectTimeoutMs`. In React Native
   * (`navigator.product`), `auto` skips fetch unless a `fetch` option is passed: RN's own fetch
   * never streams.
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
  getToken: GetToken
  /** Where `epoch` + `lastSeq` are kept between connections. Default: memory. */
  storage?: ResumeStorage
  /** Called once per new notification, in seq order; its promise is awaited before the ack. */
  onNotification?: (notification: NotificationFrame) => unknown
  /** Broadcast topics to join on every connection. */
  topics?: readonly string[]
  /**
   * Give up after this many failed connection attempts in a row (none reached `welcome`; attempts
   * while `network` says offline do not count): the client closes, `connect()` rejects and `error`
   * gets a `TidingsGaveUpError`. Default: retry forever.
   */
  maxRetries?: number
  /**
   * Online/offline signals: when the network returns, reconnect at once instead of waiting out the
   * backoff. Default `browserNetwork()` (window `online`/`offline`; none outside browsers). React
   * Native: `netInfoNetwork(NetInfo)`. `false` disables.
   */
  network?: NetworkMonitor | false
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

/** One gateway: the base URL the app gave and the endpoints derived from it. */
export interface Gateway {
  base: string
  ends: Endpoints
}

export type SseMode = NonNullable<SseOptions['mode']>

export interface ResolvedSse {
  mode: SseMode
  afterFailures: number
  retryWebSocketMs: number
}

export interface ResolvedOptions {
  gateways: Gateway[]
  getToken: GetToken
  storage: ResumeStorage
  onNotification: ((notification: NotificationFrame) => unknown) | undefined
  topics: string[]
  maxRetries: number | undefined
  network: NetworkMonitor | undefined
  backoff: ResolvedBackoff
  ack: AckOptions
  dedupeSize: number
  connectTimeoutMs: number
  /** undefined: the SSE fallback is off. */
  sse: ResolvedSse | undefined
  WebSocket: WebSocketConstructor | undefined
  fetch: FetchLike | undefined
  EventSource: EventSourceConstructor | undefined
  random: () => number
  clock: Clock
}

function gatewayList(options: TidingsClientOptions): Gateway[] {
  if (options.url !== undefined && options.urls !== undefined) {
    throw new TypeError('pass either url or urls, not both')
  }
  const list = options.urls ?? (options.url === undefined ? [] : [options.url])
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('url (or a non-empty urls) is required')
  for (const u of list) if (typeof u !== 'string') throw new TypeError('urls must be strings')
  return list.map((base: string) => ({ base, ends: endpoints(base) }))
}

/** Whether SSE can be used in `mode` with what this environment (or the options) provide. */
export function sseUsable(o: Pick<ResolvedOptions, 'sse' | 'fetch' | 'EventSource'>, mode: SseMode): boolean {
  return (
    o.sse !== undefined && ((mode !== 'eventsource' && !!o.fetch) || (mode !== 'fetch' && !!o.EventSource))
  )
}

/** React Native says so in `navigator.product`. */
export function isReactNative(global: unknown = globalThis): boolean {
  return (global as { navigator?: { product?: unknown } }).navigator?.product === 'ReactNative'
}

/** `auto` in React Native with its own fetch (which buffers the whole body) means EventSource. */
function sseMode(sse: SseOptions, appFetch: FetchLike | undefined): SseMode {
  return sse.mode ?? (isReactNative() && !appFetch ? 'eventsource' : 'auto')
}

/** Validates the options (throwing a TypeError) and fills in the defaults. */
export function resolveOptions(options: TidingsClientOptions): ResolvedOptions {
  if (typeof options.getToken !== 'function') throw new TypeError('getToken must be a function')
  const gateways = gatewayList(options)
  const maxRetries = checkMaxRetries(options.maxRetries)
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch
  const sse = options.sse === false ? undefined : (options.sse ?? {})
  const resolved: ResolvedOptions = {
    gateways,
    getToken: options.getToken,
    storage: options.storage ?? memoryStorage(),
    onNotification: options.onNotification,
    topics: [],
    maxRetries,
    network: options.network === false ? undefined : (options.network ?? browserNetwork()),
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    ack: options.ack ?? {},
    dedupeSize: options.dedupeSize ?? 1000,
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
    sse: sse && {
      mode: sseMode(sse, options.fetch),
      afterFailures: Math.max(1, sse.afterFailures ?? 2),
      retryWebSocketMs: sse.retryWebSocketMs ?? 300_000,
    },
    WebSocket: options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket,
    fetch: options.fetch ?? (globalFetch ? (u, i) => globalFetch(u, i) : undefined),
    EventSource: options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource,
    random: options.random ?? Math.random,
    clock: options.clock ?? systemClock,
  }
  if (!resolved.WebSocket && !sseUsable(resolved, resolved.sse?.mode ?? 'auto'))
    throw new TypeError('no WebSocket in this environment; pass one in options')
  for (const topic of options.topics ?? []) {
    checkTopic(topic)
    if (!resolved.topics.includes(topic)) resolved.topics.push(topic)
  }
  return resolved
}
