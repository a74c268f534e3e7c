import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createFailover } from './failover.ts'
import { resolveOptions, type TidingsClientOptions } from './options.ts'
import type { EventSourceLike, FetchLike } from './sse.ts'
import { FakeClock, fakeWebSocket, until } from './testing/fakes.ts'
import type { CloseInfo, TransportEvents } from './transport.ts'

const events: TransportEvents = {
  open: () => undefined,
  frame: () => undefined,
  activity: () => undefined,
  error: () => undefined,
  close: () => undefined,
}
const failed: CloseInfo = { code: 1006, reason: '', opened: false }

function setup(overrides: Partial<TidingsClientOptions> = {}) {
  const clock = new FakeClock()
  const ws = fakeWebSocket()
  const fetched: Array<{ url: string; headers: Record<string, string> }> = []
  const fetch: FetchLike = (url, init) => {
    fetched.push({ url, headers: init.headers })
    return new Promise(() => undefined)
  }
  const opts = resolveOptions({
    urls: ['wss://a.example', 'https://b.example/t'],
    getToken: () => 'jwt',
    WebSocket: ws.WebSocket,
    fetch,
    clock,
    network: false,
    sse: { afterFailures: 2, retryWebSocketMs: 60_000 },
    ...overrides,
  })
  let retries = 0
  const failover = createFailover(opts, () => retries++)
  return { clock, ws, fetched, failover, retries: () => retries }
}

test('round robin over the gateways; the URL carries the resume position', () => {
  const t = setup()
  t.failover.open('websocket', 'jwt', { epoch: 'e1', lastSeq: 4 }, events)
  assert.equal(t.failover.gateway.base, 'wss://a.example')
  t.failover.nextGateway()
  t.failover.open('websocket', 'jwt', null, events)
  assert.equal(t.failover.gateway.base, 'https://b.example/t')
  t.failover.nextGateway()
  t.failover.open('websocket', 'jwt', null, events)
  assert.deepEqual(
    t.ws.sockets.map((s) => s.url),
    ['wss://a.example/v1/ws?lastSeq=4&epoch=e1', 'wss://b.example/t/v1/ws', 'wss://a.example/v1/ws'],
  )
})

test('SSE after afterFailures WebSocket attempts that never opened; the WebSocket again after retryWebSocketMs', async () => {
  const t = setup()
  t.failover.closed(failed, 'websocket')
  assert.equal(t.failover.kind, 'websocket')
  t.failover.closed({ ...failed, opened: true }, 'websocket')
  t.failover.closed(failed, 'websocket')
  assert.equal(t.failover.kind, 'websocket', 'an opened socket reset the count')
  t.failover.closed(failed, 'websocket')
  assert.equal(t.failover.kind, 'sse')
  t.failover.open('sse', 'jwt', { epoch: 'e1', lastSeq: 4, lastId: 'n4' }, events)
  assert.deepEqual(t.fetched, [
    {
      url: 'https://a.example/v1/sse?lastSeq=4&epoch=e1&lastId=n4',
      headers: { accept: 'text/event-stream', authorization: 'Bearer jwt' },
    },
  ])
  await t.clock.advance(59_999)
  assert.equal(t.retries(), 0)
  await t.clock.advance(1)
  assert.equal(t.retries(), 1)
  assert.equal(t.failover.kind, 'websocket')
  t.failover.closed(failed, 'websocket')
  assert.equal(t.failover.kind, 'sse', 'one failed WebSocket attempt is enough to come back')
  t.failover.stop()
  await t.clock.advance(120_000)
  assert.equal(t.retries(), 1, 'stopped: no more trips back')
})

/** An EventSource that only records the URLs it was opened with. */
function recordingEventSource() {
  const opened: string[] = []
  class FakeEventSource implements EventSourceLike {
    constructor(url: string) {
      opened.push(url)
    }
    addEventListener() {}
    close() {}
  }
  return { EventSource: FakeEventSource, opened }
}

test('no HTTP response on SSE either: alternate; fetch cannot stream: EventSource, token in the URL', () => {
  const { EventSource, opened } = recordingEventSource()
  const t = setup({ EventSource })
  t.failover.closed(failed, 'websocket')
  t.failover.closed(failed, 'websocket')
  t.failover.closed({ ...failed, network: true }, 'sse')
  assert.equal(t.failover.kind, 'websocket', 'offline: try the WebSocket again')
  t.failover.closed(failed, 'websocket')
  assert.equal(t.failover.kind, 'sse', '…and back after one failure')
  t.failover.closed({ ...failed, unsupported: true }, 'sse')
  assert.equal(t.failover.kind, 'sse', 'EventSource is there: stay on SSE')
  t.failover.open('sse', 'jwt', null, events)
  assert.deepEqual(opened, ['https://a.example/v1/sse?access_token=jwt'])
})

test('fetch cannot stream and there is no EventSource: back to the WebSocket', () => {
  const t = setup()
  t.failover.closed(failed, 'websocket')
  t.failover.closed(failed, 'websocket')
  t.failover.closed({ ...failed, unsupported: true }, 'sse')
  assert.equal(t.failover.kind, 'websocket')
  for (let i = 0; i < 5; i++) t.failover.closed(failed, 'websocket')
  assert.equal(t.failover.kind, 'websocket', 'SSE is no longer usable')
})

// React Native's fetch() resolves only when the whole body has arrived: an SSE attempt over it gets
// no response until the connect timeout abandons it.
const timedOut: CloseInfo = { ...failed, timedOut: true }

test('a fetch() SSE attempt with no response by the connect timeout: fetch cannot stream here', () => {
  const { EventSource, opened } = recordingEventSource()
  {
    const t = setup({ EventSource })
    t.failover.closed(failed, 'websocket')
    t.failover.closed(failed, 'websocket')
    t.failover.open('sse', 'jwt', null, events)
    t.failover.closed(timedOut, 'sse')
    assert.equal(t.failover.kind, 'sse', 'EventSource is there: SSE over it')
    t.failover.open('sse', 'jwt', null, events)
    assert.deepEqual(opened, ['https://a.example/v1/sse?access_token=jwt'])
    assert.equal(t.fetched.length, 1)
  }
  {
    const t = setup()
    t.failover.closed(failed, 'websocket')
    t.failover.closed(failed, 'websocket')
    t.failover.open('sse', 'jwt', null, events)
    t.failover.closed(timedOut, 'sse')
    assert.equal(t.failover.kind, 'websocket', 'no EventSource: back to the WebSocket')
    for (let i = 0; i < 5; i++) t.failover.closed(failed, 'websocket')
    assert.equal(t.failover.kind, 'websocket', 'and it stays there')
  }
})

test('a fetch() SSE timeout after a fetch() stream has worked, or in mode fetch, is the network', async () => {
  let fetches = 0
  const streaming: FetchLike = async () => {
    fetches++
    return { ok: true, status: 200, body: new ReadableStream<Uint8Array>() }
  }
  let opened = 0
  const t = setup({ fetch: streaming })
  t.failover.closed(failed, 'websocket')
  t.failover.closed(failed, 'websocket')
  t.failover.open('sse', 'jwt', null, { ...events, open: () => opened++ })
  await until(() => opened === 1, 'the stream opened')
  t.failover.closed({ code: 1006, reason: 'no frame', opened: true }, 'sse')
  t.failover.open('sse', 'jwt', null, events)
  t.failover.closed(timedOut, 'sse')
  assert.equal(t.failover.kind, 'sse')
  t.failover.open('sse', 'jwt', null, events)
  assert.equal(fetches, 3, 'still fetch(): it streamed before')

  const m = setup({ sse: { mode: 'fetch', afterFailures: 1 } })
  m.failover.closed(failed, 'websocket')
  m.failover.open('sse', 'jwt', null, events)
  m.failover.closed(timedOut, 'sse')
  m.failover.open('sse', 'jwt', null, events)
  assert.equal(m.fetched.length, 2, 'mode fetch: the app says fetch() streams here')
})
