// Where and how the next connection attempt goes: round robin over the gateways, the WebSocket
// first, SSE after `afterFailures` WebSocket attempts in a row that never opened, and back to the
// WebSocket after `retryWebSocketMs` on SSE. SSE streams over fetch() where it can (see `closed` for
// how a fetch that cannot stream is noticed), over EventSource otherwise.
import type { TimerHandle } from './clock.ts'
import { type Gateway, type ResolvedOptions, type SseMode, sseUsable } from './options.ts'
import { openEventSource, openFetchSse } from './sse.ts'
import type { ResumeState } from './storage.ts'
import type { CloseInfo, Transport, TransportEvents, TransportKind } from './transport.ts'
import { query } from './url.ts'
import { openWebSocket } from './websocket.ts'
import { SSE_PATH, WS_PATH } from './wire.ts'

export interface Failover {
  /** The transport the next attempt uses. */
  readonly kind: TransportKind
  /** The gateway of the latest attempt. */
  readonly gateway: Gateway
  /** SSE is usable and goes over fetch(), which sees the gateway's HTTP refusals (401, 429, 503). */
  readonly sseOverFetch: boolean
  /** Opens a `kind` transport (`kind` when the attempt began) to the current gateway, resuming from `position`. */
  open(
    kind: TransportKind,
    token: string,
    position: Readonly<ResumeState> | null,
    events: TransportEvents,
  ): Transport
  /** A WebSocket opened: it works here. */
  webSocketOpened(): void
  /** Gateways are interchangeable: whatever went wrong with this one, the next attempt tries another. */
  nextGateway(): void
  /** A `kind` connection ended: picks the transport for the next attempt. */
  closed(info: CloseInfo, kind: TransportKind): void
  /** The client stopped: no more trips back to the WebSocket. */
  stop(): void
}

/** `retryWebSocket` is called when it is time to leave SSE for the WebSocket again. */
export function createFailover(opts: ResolvedOptions, retryWebSocket: () => void): Failover {
  const { gateways, WebSocket: WS, clock } = opts
  const afterFailures = opts.sse?.afterFailures ?? 2
  let kind: TransportKind = WS ? 'websocket' : 'sse'
  let gateway = gateways[0]!
  let index = 0
  let sseMode: SseMode = opts.sse?.mode ?? 'auto'
  let wsFailures = 0
  /** The latest SSE attempt used fetch(); a fetch() stream has opened on this client. */
  let sseViaFetch = false
  let fetchStreams = false
  let wsRetryTimer: TimerHandle | undefined

  const stop = (): void => {
    if (wsRetryTimer !== undefined) clock.clearTimeout(wsRetryTimer)
    wsRetryTimer = undefined
  }
  const sseAvailable = (): boolean => sseUsable(opts, sseMode)
  const switchTo = (next: TransportKind): void => {
    kind = next
    stop()
    if (next !== 'sse' || !WS) return
    wsRetryTimer = clock.setTimeout(() => {
      wsRetryTimer = undefined
      if (kind !== 'sse') return
      kind = 'websocket'
      wsFailures = afterFailures - 1 // one failed WebSocket attempt is enough to come back to SSE
      retryWebSocket()
    }, opts.sse?.retryWebSocketMs ?? 300_000)
  }

  return {
    get kind() {
      return kind
    },
    get gateway() {
      return gateway
    },
    get sseOverFetch() {
      return sseAvailable() && sseMode !== 'eventsource' && !!opts.fetch
    },
    open(attemptKind, token, position, events) {
      gateway = gateways[index]!
      const { ends } = gateway
      const resume = position
        ? { lastSeq: position.lastSeq, epoch: position.epoch, lastId: position.lastId }
        : {}
      if (attemptKind === 'websocket') {
        return openWebSocket(WS!, ends.ws + WS_PATH + query(resume), token, events)
      }
      const fetchFn = sseMode === 'eventsource' ? undefined : opts.fetch
      sseViaFetch = fetchFn !== undefined
      if (fetchFn) {
        const streamed: TransportEvents = {
          ...events,
          open() {
            fetchStreams = true
            events.open()
          },
        }
        return openFetchSse(fetchFn, ends.http + SSE_PATH + query(resume), token, streamed)
      }
      const url = ends.http + SSE_PATH + query({ ...resume, access_token: token })
      return openEventSource(opts.EventSource!, url, events)
    },
    webSocketOpened() {
      wsFailures = 0
    },
    nextGateway() {
      index = (index + 1) % gateways.length
    },
    closed(info, closedKind) {
      if (closedKind === 'websocket') {
        wsFailures = info.opened ? 0 : wsFailures + 1
        if (wsFailures >= afterFailures && sseAvailable()) switchTo('sse')
      } else if (info.unsupported || (sseMode === 'auto' && sseViaFetch && !fetchStreams && info.timedOut)) {
        // React Native's fetch() resolves only once the whole body has arrived, i.e. never for a
        // stream: an attempt with no response by the connect timeout means fetch() cannot stream
        // here, unless a fetch() stream has worked on this client (then it was the network). The
        // `timedOut` attempt cannot have opened: an opened fetch() stream sets `fetchStreams`.
        sseMode = 'eventsource'
        if (!sseAvailable() && WS) switchTo('websocket')
      } else if (info.network && WS) {
        // Neither transport reaches the server: probably offline, alternate between the two.
        wsFailures = afterFailures - 1
        switchTo('websocket')
      }
    },
    stop,
  }
}
