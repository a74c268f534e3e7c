// Test doubles (not part of the build): a manual clock, a scriptable WebSocket, a condition waiter.
import { setImmediate as turn } from 'node:timers/promises'
import type { Clock, TimerHandle } from '../clock.ts'
import type { EventSourceLike } from '../sse.ts'
import type { WebSocketLike } from '../websocket.ts'

/** Lets queued callbacks and promise chains run, without advancing any clock. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await turn()
}

/** Resolves once `cond()` holds; fails the test if it never does (no wall-clock sleeps). */
export async function until(cond: () => boolean, what = 'condition', maxTurns = 2000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return
    await turn()
  }
  throw new Error(`gave up waiting for ${what}`)
}

export class FakeClock implements Clock {
  private t = 1_000_000
  private seq = 0
  private readonly timers = new Map<number, { at: number; fn: () => void }>()

  now(): number {
    return this.t
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn })
    return id
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number)
  }
  /** Delays (from now) of the pending timers, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((x) => x.at - this.t).sort((a, b) => a - b)
  }
  /** Moves time forward, firing due timers in order and letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    for (;;) {
      await settle()
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e
      if (!next) break
      this.timers.delete(next[0])
      this.t = next[1].at
      next[1].fn()
    }
    this.t = end
    await settle()
  }
}

export class FakeSocket implements WebSocketLike {
  readyState = 0
  protocol = ''
  onopen: ((e: unknown) => void) | null = null
  onmessage: ((e: { data: unknown }) => void) | null = null
  onerror: ((e: unknown) => void) | null = null
  onclose: ((e: { code: number; reason: string }) => void) | null = null
  readonly url: string
  readonly protocols: string[]
  readonly sent: Array<Record<string, unknown>> = []
  closedWith: { code: number | undefined; reason: string | undefined } | undefined

  constructor(url: string, protocols?: string | string[]) {
    this.url = url
    this.protocols = typeof protocols === 'string' ? [protocols] : (protocols ?? [])
  }
  get query(): URLSearchParams {
    return new URL(this.url).searchParams
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open')
    this.sent.push(JSON.parse(data) as Record<string, unknown>)
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason }
    this.readyState = 3
  }
  sentOf(type: string): Array<Record<string, unknown>> {
    return this.sent.filter((f) => f.type === type)
  }
  // ---- the server's side ----
  open(): void {
    this.readyState = 1
    this.protocol = 'tidings.v1'
    this.onopen?.({})
  }
  receive(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }
  /** The upgrade failed (refused, 401, DNS…): browsers only report 1006. */
  fail(): void {
    this.readyState = 3
    this.onerror?.({})
    this.onclose?.({ code: 1006, reason: '' })
  }
}

/** A WebSocket constructor that records every socket the client creates. */
export function fakeWebSocket(): {
  WebSocket: new (url: string, p?: string | string[]) => FakeSocket
  sockets: FakeSocket[]
} {
  const sockets: FakeSocket[] = []
  class Recorded extends FakeSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
    }
  }
  return { WebSocket: Recorded, sockets }
}

/**
 * react-native-sse's dispatch model: only listeners added with addEventListener are called, and
 * `close()` dispatches a `close` event. Each constructor keeps the instances it made, in order.
 */
export function listenerOnlyEventSource() {
  const sources: ListenerOnlyEventSource[] = []
  class ListenerOnlyEventSource implements EventSourceLike {
    readonly listeners = new Map<string, Array<(e: unknown) => void>>()
    closed = false
    readonly url: string
    constructor(url: string) {
      this.url = url
      sources.push(this)
    }
    addEventListener(type: string, fn: (e: unknown) => void) {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn])
    }
    dispatch(type: string, e: object) {
      for (const fn of this.listeners.get(type) ?? []) fn(e)
    }
    close() {
      this.closed = true
      this.dispatch('close', { type: 'close' })
    }
  }
  return { EventSource: ListenerOnlyEventSource, sources }
}
