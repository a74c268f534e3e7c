import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StateEvent } from './client.ts'
import { RetryBudget, TidingsGaveUpError } from './give-up.ts'
import type { NetworkMonitor } from './network.ts'
import { settle, until } from './testing/fakes.ts'
import { setup } from './testing/harness.ts'

/** Fails every socket the client opens, waiting out each backoff on the fake clock. */
async function failAll(t: ReturnType<typeof setup>, upTo: number): Promise<void> {
  for (let i = 0; i < upTo; i++) {
    await until(() => t.ws.sockets.length > i || t.client.state === 'closed', `socket #${i}`)
    if (t.client.state === 'closed') return
    t.socket(i).fail()
    await settle()
    const r = t.states.at(-1)
    if (r?.state === 'reconnecting') await t.clock.advance(r.delayMs)
  }
}

test('maxRetries: after maxRetries + 1 failed attempts in a row the client stops with a TidingsGaveUpError', async () => {
  const t = setup({ maxRetries: 2 })
  const connected = t.client.connect()
  await failAll(t, 5)
  await assert.rejects(connected, (e: unknown) => {
    assert.ok(e instanceof TidingsGaveUpError)
    assert.equal(e.kind, 'gave_up')
    assert.equal(e.attempts, 3)
    assert.equal(e.lastCloseCode, 1006)
    return true
  })
  assert.equal(t.ws.sockets.length, 3, 'the first attempt and 2 retries, then nothing')
  assert.equal(t.client.state, 'closed')
  assert.deepEqual(t.states.at(-1), { state: 'closed', reason: 'gave up' } satisfies StateEvent)
  assert.ok(
    t.errors.some((e) => e instanceof TidingsGaveUpError),
    'also reported as an error event',
  )
  assert.deepEqual(t.clock.pending(), [], 'no timer left behind')
  // connect() starts over
  const again = t.client.connect()
  await t.accept(3)
  await again
  assert.equal(t.client.state, 'open')
})

test('maxRetries counts failures since the last welcome, and maxRetries: 0 never retries', async () => {
  const t = setup({ maxRetries: 1 })
  void t.client.connect()
  await t.accept(0)
  t.socket(0).serverClose(1006)
  await settle()
  const r = t.states.at(-1)
  assert.equal(r?.state, 'reconnecting', 'a session that was open gets its retries afresh')
  await t.clock.advance(r?.state === 'reconnecting' ? r.delayMs : 0)
  await t.accept(1)
  assert.equal(t.client.state, 'open')
  await t.client.close()

  const zero = setup({ maxRetries: 0 })
  const p = zero.client.connect()
  await failAll(zero, 1)
  await assert.rejects(p, TidingsGaveUpError)
  assert.equal(zero.ws.sockets.length, 1)
  assert.throws(() => setup({ maxRetries: -1 }), /maxRetries/)
})

test('connect() after giving up (or after close()) has all its maxRetries again', async () => {
  const t = setup({ maxRetries: 1 })
  const first = t.client.connect()
  await failAll(t, 2)
  await assert.rejects(first, TidingsGaveUpError)
  assert.equal(t.ws.sockets.length, 2)
  // The user taps "retry" on the offline banner: the first attempt fails again...
  const again = t.client.connect()
  await until(() => t.ws.sockets.length === 3, 'socket #2')
  t.socket(2).fail()
  await settle()
  assert.equal(
    t.client.state,
    'reconnecting',
    'one failure of a new connect() is not the end: a retry follows',
  )
  const r = t.states.at(-1)
  await t.clock.advance(r?.state === 'reconnecting' ? r.delayMs : 0)
  await failAll(t, 4)
  await assert.rejects(again, (e: unknown) => e instanceof TidingsGaveUpError && e.attempts === 2)
  assert.equal(t.ws.sockets.length, 4, 'the new connect() made 1 attempt + 1 retry, like the first')

  // close() in the middle of a failing streak (the app went to the background) and connect() later
  const u = setup({ maxRetries: 1 })
  void u.client.connect()
  await failAll(u, 1)
  await u.client.close()
  const closedAt = u.ws.sockets.length
  const later = u.client.connect()
  await until(() => u.ws.sockets.length > closedAt, 'a socket of the new connect()')
  u.socket(closedAt).fail()
  await settle()
  assert.equal(
    u.client.state,
    'reconnecting',
    'failures before close() do not count against the new connect()',
  )
  await u.client.close()
  await assert.rejects(later, /closed before/)
})

test('network: back online during a backoff reconnects at once; offline attempts do not count', async () => {
  let online = true
  const listeners = new Set<(o: boolean) => void>()
  const network: NetworkMonitor = {
    isOnline: () => online,
    subscribe: (l) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
  }
  const t = setup({ network, maxRetries: 1 })
  const connected = t.client.connect()
  assert.equal(listeners.size, 1, 'subscribed when connecting')
  online = false
  for (const l of listeners) l(false)
  await failAll(t, 3) // failures while offline: free
  await until(() => t.ws.sockets.length > 3, 'socket #3')
  t.socket(3).fail()
  await settle()
  assert.equal(t.client.state, 'reconnecting')
  const waiting = t.states.at(-1)
  assert.ok(waiting?.state === 'reconnecting' && waiting.delayMs > 0)
  const before = t.ws.sockets.length
  online = true
  for (const l of listeners) l(true)
  await until(() => t.ws.sockets.length > before, 'an attempt right away, no clock advance')
  await t.accept(before)
  await connected
  await t.client.close()
  assert.equal(listeners.size, 0, 'unsubscribed on close')
})

test('RetryBudget', () => {
  const b = new RetryBudget(1)
  assert.equal(b.failed(false), false)
  assert.equal(b.failed(true), false)
  assert.equal(b.failed(false), true)
  b.opened()
  assert.equal(b.attempts, 0)
  assert.equal(new RetryBudget(undefined).failed(false), false)
})
