// The client as configured in the README's React Native example, against React Native's platform
// behaviour: its fetch() (whatwg-fetch over XMLHttpRequest) resolves only once the whole body has
// arrived, so never for an event stream; the react-native-sse polyfill calls only listeners added with
// addEventListener. Fake clock and sockets (testing/), no network.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FetchLike } from './sse.ts'
import { listenerOnlyEventSource, settle, until } from './testing/fakes.ts'
import { setup, welcome } from './testing/harness.ts'

/** RN's fetch: no response for a stream (until aborted); other requests are answered 200. */
function rnFetch() {
  const urls: string[] = []
  const fetch: FetchLike = async (url, init) => {
    if (!url.includes('/v1/sse')) return { ok: true, status: 200, body: null }
    urls.push(url)
    return new Promise((_resolve, reject) => {
      const signal = init.signal as AbortSignal | undefined
      signal?.addEventListener('abort', () => reject(new Error('aborted')))
    })
  }
  return { fetch, urls }
}

const sseFrame = (frame: { type: string }) => ({ data: JSON.stringify(frame), lastEventId: null })

test('RN: the fetch() SSE attempt that never gets a response gives way to the EventSource polyfill', async () => {
  const f = rnFetch()
  const es = listenerOnlyEventSource()
  const t = setup({ sse: {}, fetch: f.fetch, EventSource: es.EventSource })
  void t.client.connect()
  for (let i = 0; i < 2; i++) {
    await until(() => t.ws.sockets.length === i + 1)
    t.socket(i).fail()
    await t.clock.advance(2000)
  }
  assert.deepEqual(f.urls, ['https://gw.example/v1/sse'])
  await t.clock.advance(15_000) // connect timeout: no response at all
  await t.clock.advance(2000)
  await until(() => es.sources.length === 1, 'EventSource attempt')
  assert.equal(f.urls.length, 1, 'fetch() is not tried for SSE again')
  const source = es.sources[0]!
  assert.match(source.url, /^https:\/\/gw\.example\/v1\/sse\?access_token=jwt-/)
  source.dispatch('open', { type: 'open' })
  source.dispatch('welcome', sseFrame(welcome()))
  await until(() => t.client.state === 'open')
  assert.equal(t.client.session?.transport, 'sse')
  // the stream fails: noticed at once, not two heartbeats later
  source.dispatch('error', { type: 'error', message: '', xhrState: 4, xhrStatus: 0 })
  await settle()
  assert.equal(t.client.state, 'reconnecting')
  assert.equal(source.closed, true)
  await t.client.close()
})

test('RN without an EventSource polyfill: the SDK stays on the WebSocket', async () => {
  const f = rnFetch()
  const t = setup({ sse: {}, fetch: f.fetch })
  void t.client.connect()
  for (let i = 0; i < 2; i++) {
    await until(() => t.ws.sockets.length === i + 1)
    t.socket(i).fail()
    await t.clock.advance(2000)
  }
  await t.clock.advance(17_000)
  await until(() => t.ws.sockets.length === 3, 'back on the WebSocket')
  for (let i = 3; i < 8; i++) {
    t.socket(i - 1).fail()
    await until(() => t.client.state === 'reconnecting')
    const r = t.states.at(-1)
    await t.clock.advance(r?.state === 'reconnecting' ? r.delayMs : 0)
    await until(() => t.ws.sockets.length === i + 1, `WebSocket attempt ${i + 1}`)
  }
  assert.equal(f.urls.length, 1, 'one SSE attempt over fetch(), never again')
  await t.accept(7)
  assert.equal(t.client.session?.transport, 'websocket')
  await t.client.close()
})

test('RN detected (navigator.product): SSE goes straight to the EventSource polyfill', async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
  Object.defineProperty(globalThis, 'navigator', { value: { product: 'ReactNative' }, configurable: true })
  try {
    const es = listenerOnlyEventSource()
    const t = setup({ sse: {}, EventSource: es.EventSource, fetch: undefined })
    void t.client.connect()
    for (let i = 0; i < 2; i++) {
      await until(() => t.ws.sockets.length === i + 1)
      t.socket(i).fail()
      await t.clock.advance(2000)
    }
    await until(() => es.sources.length === 1, 'EventSource attempt')
    await t.client.close()
  } finally {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved)
  }
})
