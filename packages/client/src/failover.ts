// Where and how the next connection attempt goes: round robin over the gateways, the WebSocket
// first, SSE after `afterFailures` WebSocket attempts in a row that never opened, and back to the
// WebSocket after `retryWebSocketMs` on SSE.
import type { TimerHandle } from './clock.ts'
import { type Gateway, type ResolvedOptions, type SseMode, sseUsable } from './options.ts'
import { openEventSource, openFetchSse } from './sse.ts'
import type { ResumeState } from './storage.ts'
import type { CloseInfo, Transport, TransportEvents, TransportKind } from './transport.ts'
import { query } from './url.ts'
import { openWebSocket } from './websocket.ts'
import { SSE_PATH, WS_PATH } from './wire.ts'

export class Failover {
  /** The transport the next attempt uses. */
  kind: TransportKind
  /** The gateway of the latest attempt. */
  gateway: Gateway
  private index = 0
  private sseMode: SseMode
  private wsFailures = 0
  private wsRetryTimer: TimerHandle | undefined
  private readonly afterFailures: number
  private readonly opts: ResolvedOptions
  private readonly retryWebSocket: () => void

  /** `retryWebSocket` is called when it is time to leave SSE for the WebSocket again. */
  constructor(opts: ResolvedOptions, retryWebSocket: () => void) {
    this.opts = opts
    this.retryWebSocket = retryWebSocket
    this.kind = opts.WebSocket ? 'websocket' : 'sse'
    this.gateway = opts.gateways[0]!
    this.sseMode = opts.sse?.mode ?? 'auto'
    this.afterFailures = opts.sse?.afterFailures ?? 2
  }

  /** Opens a `kind` transport (`this.kind` when the attempt began) to the current gateway, resuming from `position`. */
  open(
    kind: TransportKind,
    token: string,
    position: Readonly<ResumeState> | null,
    events: TransportEvents,
  ): Transport {
    this.gateway = this.opts.gateways[this.index]!
    const { ends } = this.gateway
    const resume = position ? { lastSeq: position.lastSeq, epoch: position.epoch } : {}
    if (kind === 'websocket') {
      return openWebSocket(this.opts.WebSocket!, ends.ws + WS_PATH + query(resume), token, events)
    }
    if (this.sseMode !== 'eventsource' && this.opts.fetch) {
      const lastEventId = position ? `${position.epoch}:${position.lastSeq}` : undefined
      return openFetchSse(this.opts.fetch, ends.http + SSE_PATH + query(resume), token, lastEventId, events)
    }
    const url = ends.http + SSE_PATH + query({ ...resume, access_token: token })
    return openEventSource(this.opts.EventSource!, url, events)
  }

  /** A WebSocket opened: it works here. */
  webSocketOpened(): void {
    this.wsFailures = 0
  }

  /** Gateways are interchangeable: whatever went wrong with this one, the next attempt tries another. */
  nextGateway(): void {
    this.index = (this.index + 1) % this.opts.gateways.length
  }

  /** A `kind` connection ended: picks the transport for the next attempt. */
  closed(info: CloseInfo, kind: TransportKind): void {
    const ws = this.opts.WebSocket
    if (kind === 'websocket') {
      this.wsFailures = info.opened ? 0 : this.wsFailures + 1
      if (this.wsFailures >= this.afterFailures && this.sseAvailable()) this.switchTo('sse')
    } else if (info.unsupported) {
      this.sseMode = 'eventsource'
      if (!this.sseAvailable() && ws) this.switchTo('websocket')
    } else if (info.network && ws) {
      // Neither transport reaches the server: probably offline, alternate between the two.
      this.wsFailures = this.afterFailures - 1
      this.switchTo('websocket')
    }
  }

  /** The client stopped: no more trips back to the WebSocket. */
  stop(): void {
    if (this.wsRetryTimer !== undefined) this.opts.clock.clearTimeout(this.wsRetryTimer)
    this.wsRetryTimer = undefined
  }

  private sseAvailable(): boolean {
    return sseUsable(this.opts, this.sseMode)
  }

  private switchTo(kind: TransportKind): void {
    this.kind = kind
    this.stop()
    if (kind !== 'sse' || !this.opts.WebSocket) return
    this.wsRetryTimer = this.opts.clock.setTimeout(() => {
      this.wsRetryTimer = undefined
      if (this.kind !== 'sse') return
      this.kind = 'websocket'
      this.wsFailures = this.afterFailures - 1 // one failed WebSocket attempt is enough to come back to SSE
      this.retryWebSocket()
    }, this.opts.sse?.retryWebSocketMs ?? 300_000)
  }
}
