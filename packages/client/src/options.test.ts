import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_BACKOFF } from './backoff.ts'
import { systemClock } from './clock.ts'
import { isReactNative, resolveOptions, sseUsable, type TidingsClientOptions } from './options.ts'
import type { FetchLike } from './sse.ts'
import { fakeWebSocket } from './testing/fakes.ts'

const WebSocket = fakeWebSocket().WebSocket
const base: TidingsClientOptions = { url: 'wss://gw.example/p', getToken: () => 'jwt', WebSocket }

test('defaults are filled in; gateways get their endpoints', () => {
  const o = resolveOptions({ ...base, topics: ['a', 'a', 'b'], backoff: { baseMs: 100 } })
  assert.deepEqual(o.gateways, [
    { base: 'wss://gw.example/p', ends: { ws: 'wss://gw.example/p', http: 'https://gw.example/p' } },
  ])
  assert.deepEqual(o.backoff, { ...DEFAULT_BACKOFF, baseMs: 100 })
  assert.deepEqual(o.topics, ['a', 'b'])
  assert.deepEqual(o.sse, { mode: 'auto', afterFailures: 2, retryWebSocketMs: 300_000 })
  assert.equal(o.clock, systemClock)
  assert.equal(o.connectTimeoutMs, 15_000)
  assert.equal(o.dedupeSize, 1000)
  assert.equal(o.maxRetries, undefined)
  assert.equal(o.network, undefined, 'no browser events in Node')
  assert.equal(resolveOptions({ ...base, sse: false }).sse, undefined)
  assert.equal(resolveOptions({ ...base, sse: { afterFailures: 0 } }).sse?.afterFailures, 1)
})

test('invalid options throw a TypeError', () => {
  const bad: Array<[string, Partial<TidingsClientOptions> & Record<string, unknown>]> = [
    ['getToken', { getToken: undefined }],
    ['both url and urls', { urls: ['wss://x'] }],
    ['no url', { url: undefined }],
    ['empty urls', { url: undefined, urls: [] }],
    ['a non-string url', { url: undefined, urls: [42 as unknown as string] }],
    ['a relative url', { url: '/v1/ws' }],
    ['maxRetries', { maxRetries: -1 }],
    ['a topic', { topics: ['not a topic!'] }],
  ]
  for (const [what, o] of bad) {
    assert.throws(() => resolveOptions({ ...base, ...o } as TidingsClientOptions), TypeError, what)
  }
})

test('without a WebSocket the client needs a usable SSE fallback', () => {
  const fetch: FetchLike = () => new Promise(() => undefined)
  const noWs = { ...base, WebSocket: undefined }
  const had = (globalThis as { WebSocket?: unknown }).WebSocket
  ;(globalThis as { WebSocket?: unknown }).WebSocket = undefined
  try {
    assert.throws(() => resolveOptions({ ...noWs, sse: false, fetch }), TypeError)
    assert.throws(() => resolveOptions({ ...noWs, sse: { mode: 'eventsource' }, fetch }), TypeError)
    const o = resolveOptions({ ...noWs, fetch })
    assert.equal(sseUsable(o, 'auto'), true)
    assert.equal(sseUsable(o, 'eventsource'), false)
  } finally {
    ;(globalThis as { WebSocket?: unknown }).WebSocket = had
  }
})

test('React Native (navigator.product): sse mode auto skips fetch streaming unless the app passes a fetch', () => {
  assert.equal(isReactNative({ navigator: { product: 'ReactNative' } }), true)
  assert.equal(isReactNative({ navigator: { product: 'Gecko' } }), false)
  assert.equal(isReactNative({}), false)
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
  Object.defineProperty(globalThis, 'navigator', { value: { product: 'ReactNative' }, configurable: true })
  try {
    assert.equal(resolveOptions(base).sse?.mode, 'eventsource', "RN's fetch buffers the whole body")
    const fetch: FetchLike = () => new Promise(() => undefined)
    assert.equal(resolveOptions({ ...base, fetch }).sse?.mode, 'auto', 'an app fetch may stream (expo/fetch)')
    assert.equal(resolveOptions({ ...base, sse: { mode: 'fetch' } }).sse?.mode, 'fetch')
  } finally {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved)
  }
  assert.equal(resolveOptions(base).sse?.mode, 'auto')
})
