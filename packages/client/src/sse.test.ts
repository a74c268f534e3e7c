import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TidingsError } from './errors.ts'
import {
  type AbortSignalLike,
  type EventSourceConstructor,
  type EventSourceLike,
  openEventSource,
  openFetchSse,
  type SseEvent,
  SseParser,
  statusToCloseCode,
} from './sse.ts'
import { listenerOnlyEventSource, until } from './testing/fakes.ts'
import type { CloseInfo, TransportEvents } from './transport.ts'
import type { ServerFrame } from './wire.ts'

test('parser: fields, multi-line data, comments, CRLF and chunks split anywhere', () => {
  const stream =
    ': keep-alive\r\n' +
    'event: welcome\r\ndata: {"type":"welcome","epoch":"e"}\r\n\r\n' +
    'event: notification\nid: e:1\ndata: {"type":"notification",\ndata: "seq":1}\n\n' +
    'data:no-space\rid\r\r' +
    'event: ignored-without-data\n\n' +
    'retry: 10\nevent: broadcast\ndata: {"type":"broadcast"}\n\n'
  const expected: SseEvent[] = [
    { event: 'welcome', data: '{"type":"welcome","epoch":"e"}', id: '' },
    { event: 'notification', data: '{"type":"notification",\n"seq":1}', id: 'e:1' },
    { event: 'message', data: 'no-space', id: '' },
    { event: 'broadcast', data: '{"type":"broadcast"}', id: '' },
  ]
  for (const size of [1, 2, 3, 7, stream.length]) {
    const got: SseEvent[] = []
    const p = new SseParser((e) => got.push(e))
    for (let i = 0; i < stream.length; i += size) p.push(stream.slice(i, i + size))
    assert.deepEqual(got, expected, `chunk size ${size}`)
  }
})

test('HTTP statuses map onto the close-code policy', () => {
  assert.equal(statusToCloseCode(401), 4001)
  assert.equal(statusToCloseCode(429), 4008)
  assert.equal(statusToCloseCode(503), 1013)
  assert.equal(statusToCloseCode(403), 1008)
  assert.equal(statusToCloseCode(500), 1006)
})

function recorder() {
  const r = {
    opened: 0,
    frames: [] as Array<[ServerFrame, string | undefined]>,
    errors: [] as TidingsError[],
    closed: undefined as CloseInfo | undefined,
    activity: 0,
  }
  const ev: TransportEvents = {
    open: () => r.opened++,
    frame: (f, id) => r.frames.push([f, id]),
    activity: () => r.activity++,
    error: (e) => r.errors.push(e),
    close: (info) => (r.closed = info),
  }
  return { r, ev }
}

function streamOf(): { body: ReadableStream<Uint8Array>; push: (s: string) => void; end: () => void } {
  let ctl!: ReadableStreamDefaultController<Uint8Array>
  const body = new ReadableStream<Uint8Array>({ start: (c) => (ctl = c) })
  const enc = new TextEncoder()
  return { body, push: (s) => ctl.enqueue(enc.encode(s)), end: () => ctl.close() }
}

test('fetch transport: Authorization header (the position is in the query, no Last-Event-ID), frames, end of stream', async () => {
  const { r, ev } = recorder()
  const s = streamOf()
  const calls: Array<{ url: string; headers: Record<string, string> }> = []
  openFetchSse(
    async (url, init) => {
      calls.push({ url, headers: init.headers })
      return { ok: true, status: 200, body: s.body }
    },
    'https://gw/v1/sse?lastSeq=4&epoch=e1&lastId=n4',
    'jwt',
    ev,
  )
  await until(() => r.opened === 1, 'open')
  assert.deepEqual(calls, [
    {
      url: 'https://gw/v1/sse?lastSeq=4&epoch=e1&lastId=n4',
      headers: { accept: 'text/event-stream', authorization: 'Bearer jwt' },
    },
  ])
  s.push('event: notification\nid: e1:5\ndata: {"type":"notification","seq":5}\n\n: ping\n\n')
  s.push('event: pong\ndata: {}\n\ndata: nope\n\n')
  await until(() => r.frames.length === 2 && r.errors.length === 1, 'frames')
  assert.deepEqual(r.frames, [
    [{ type: 'notification', seq: 5 }, 'e1:5'],
    [{ type: 'pong' }, 'e1:5'],
  ])
  assert.match(r.errors[0]!.message, /not JSON/)
  s.end()
  await until(() => r.closed !== undefined, 'close')
  assert.deepEqual(r.closed, { code: 1006, reason: 'event stream ended', opened: true })
})

test('fetch transport: refused statuses, network errors, no streaming', async () => {
  for (const [status, code] of [
    [401, 4001],
    [503, 1013],
  ] as const) {
    const { r, ev } = recorder()
    openFetchSse(async () => ({ ok: false, status, body: null }), 'https://gw/v1/sse', 't', ev)
    await until(() => r.closed !== undefined)
    assert.deepEqual(r.closed, { code, reason: `HTTP ${status}`, opened: false })
  }
  {
    const { r, ev } = recorder()
    openFetchSse(() => Promise.reject(new TypeError('fetch failed')), 'https://gw/v1/sse', 't', ev)
    await until(() => r.closed !== undefined)
    assert.equal(r.closed?.network, true)
    assert.equal(r.opened, 0)
  }
  {
    const { r, ev } = recorder()
    openFetchSse(async () => ({ ok: true, status: 200, body: null }), 'https://gw/v1/sse', 't', ev)
    await until(() => r.closed !== undefined)
    assert.equal(r.closed?.unsupported, true)
  }
})

test('fetch transport: close() aborts the request and reports nothing', async () => {
  const { r, ev } = recorder()
  let signal: AbortSignalLike | undefined
  const t = openFetchSse(
    (_url, init) => {
      signal = init.signal
      return new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      )
    },
    'https://gw/v1/sse',
    't',
    ev,
  )
  assert.equal(t.send({ type: 'ping' }), false, 'SSE is receive-only')
  t.close('bye')
  assert.equal(signal?.aborted, true)
  await until(() => true)
  assert.equal(r.closed, undefined)
})

/** Dispatches like a browser EventSource: `on<type>` and the listeners added for `type`. */
class FakeEventSource implements EventSourceLike {
  static last: FakeEventSource | undefined
  onopen: ((e: unknown) => void) | null = null
  onerror: ((e: unknown) => void) | null = null
  onmessage: ((e: unknown) => void) | null = null
  readonly listeners = new Map<string, Array<(e: unknown) => void>>()
  closed = false
  readonly url: string
  constructor(url: string) {
    this.url = url
    FakeEventSource.last = this
  }
  addEventListener(type: string, fn: (e: unknown) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn])
  }
  dispatch(type: string, e: object) {
    const prop = { open: this.onopen, error: this.onerror, message: this.onmessage }[type]
    prop?.(e)
    for (const fn of this.listeners.get(type) ?? []) fn(e)
  }
  close() {
    this.closed = true
  }
}

test('EventSource transport: named events, server error frames vs. connection errors', () => {
  const { r, ev } = recorder()
  openEventSource(FakeEventSource, 'https://gw/v1/sse?access_token=t', ev)
  const es = FakeEventSource.last!
  es.dispatch('open', {})
  es.dispatch('notification', { data: '{"type":"notification","seq":1}', lastEventId: 'e:1' })
  es.dispatch('welcome', { data: '{"epoch":"e"}', lastEventId: '' })
  es.dispatch('error', { data: '{"type":"error","code":"bad_request","message":"m"}' })
  assert.equal(r.opened, 1)
  assert.deepEqual(
    r.frames.map(([f]) => f.type),
    ['notification', 'welcome', 'error'],
  )
  assert.equal(r.frames[1]![0].type, 'welcome', 'the event name stands in for a missing type')
  assert.equal(r.closed, undefined)
  es.dispatch('error', {})
  assert.equal(es.closed, true, 'no automatic EventSource retry with a stale token')
  assert.deepEqual(r.closed, { code: 1006, reason: 'EventSource failed', opened: true, network: false })
})

test('EventSource transport: a polyfill that only calls addEventListener listeners (react-native-sse)', () => {
  const { r, ev } = recorder()
  const rn = listenerOnlyEventSource()
  openEventSource(rn.EventSource, 'https://gw/v1/sse?access_token=t', ev)
  const es = rn.sources[0]!
  es.dispatch('open', { type: 'open' })
  es.dispatch('welcome', { type: 'welcome', data: '{"type":"welcome"}', lastEventId: null, url: '' })
  es.dispatch('message', { type: 'message', data: '{"type":"pong"}', lastEventId: null, url: '' })
  assert.equal(r.opened, 1)
  assert.deepEqual(r.frames, [
    [{ type: 'welcome' }, undefined],
    [{ type: 'pong' }, undefined],
  ])
  // a failure is noticed at once, not by the heartbeat watchdog; its own `close` event is no frame
  es.dispatch('error', { type: 'error', message: '', xhrState: 4, xhrStatus: 0 })
  assert.equal(es.closed, true)
  assert.deepEqual(r.closed, { code: 1006, reason: 'EventSource failed', opened: true, network: false })
  assert.equal(r.errors.length, 0)
})

// react-native-sse's published declaration (binaryminds/react-native-sse index.d.ts, its shape):
// `EventSource` (the README's React Native example) must fit the option without a cast.
type RnSseEventType<E extends string> = E | 'open' | 'message' | 'error' | 'close'
type RnSseEvent<T extends string> = T extends 'open' | 'close'
  ? { type: T }
  : T extends 'error'
    ? { type: 'error'; message: string; xhrState: number; xhrStatus: number }
    : { type: T; data: string | null; lastEventId: string | null; url: string }
declare class RnSse<E extends string = never> {
  constructor(url: URL | string, options?: { headers?: Record<string, unknown>; pollingInterval?: number })
  open(): void
  close(): void
  addEventListener<T extends RnSseEventType<E>>(type: T, listener: (event: RnSseEvent<T>) => void): void
  removeEventListener<T extends RnSseEventType<E>>(type: T, listener: (event: RnSseEvent<T>) => void): void
  removeAllEventListeners<T extends RnSseEventType<E>>(type?: T): void
  dispatch<T extends RnSseEventType<E>>(type: T, data: RnSseEvent<T>): void
}
const rnSseFits: EventSourceConstructor | undefined = undefined as typeof RnSse | undefined
void rnSseFits

test('fetch transport: 401 TDG_ERR_TOKEN_REVOKED is close 4003 (revoked), other 401s 4001', async () => {
  for (const [code, closeCode] of [
    ['TDG_ERR_TOKEN_REVOKED', 4003],
    ['TDG_ERR_TOKEN_EXPIRED', 4001],
  ] as const) {
    const { r, ev } = recorder()
    const json = async () => ({ statusCode: 401, code, message: 'm' })
    openFetchSse(async () => ({ ok: false, status: 401, body: null, json }), 'https://gw/v1/sse', 't', ev)
    await until(() => r.closed !== undefined)
    assert.deepEqual(r.closed, { code: closeCode, reason: 'HTTP 401', opened: false })
  }
  assert.equal(statusToCloseCode(401, 'TDG_ERR_TOKEN_REVOKED'), 4003)
  assert.equal(statusToCloseCode(403, 'TDG_ERR_TOKEN_REVOKED'), 1008)
})
