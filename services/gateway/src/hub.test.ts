// The hub's heartbeat on a fake clock: one slice per tick, each session once per interval, one
// presence call per slice. In memory (testing.ts): no Redis, no socket.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, mock, test } from 'node:test'
import type { PresenceEntry } from '@tidings/delivery'
import { heartbeatSlices } from './hub.ts'
import type { Session } from './session.ts'
import { createMemoryPod, FakeTransport, type MemoryPod, settle } from './testing.ts'

const HEARTBEAT_MS = 1000
let m: MemoryPod
beforeEach(() => {
  m = createMemoryPod({ HEARTBEAT_MS: String(HEARTBEAT_MS) })
})
afterEach(() => {
  m.stop()
  mock.timers.reset()
})

test('the heartbeat visits one slice per tick and every session once per interval', async () => {
  const open: Array<{ session: Session; transport: FakeTransport }> = []
  for (let i = 0; i < 60; i++) {
    const transport = new FakeTransport()
    const principal = { userId: `u${i}`, issuedAt: Date.now(), expiresAt: Date.now() + 3_600_000, topics: [] }
    const session = m.hub.open(transport, principal, {})
    assert.ok(session)
    open.push({ session, transport })
  }
  await settle()
  const calls: PresenceEntry[][] = []
  const refreshMany = m.pod.presence.refreshMany
  m.pod.presence.refreshMany = (entries) => {
    calls.push([...entries])
    return refreshMany(entries)
  }
  mock.timers.enable({ apis: ['setInterval'] })
  m.hub.startHeartbeat()
  const slices = heartbeatSlices(HEARTBEAT_MS)
  assert.equal(slices, 10)
  const pinged = () => open.reduce((n, o) => n + o.transport.pings, 0)

  const perTick: number[] = []
  for (let t = 0; t < slices; t++) {
    const before = pinged()
    mock.timers.tick(HEARTBEAT_MS / slices)
    perTick.push(pinged() - before)
  }
  assert.deepEqual(
    open.map((o) => o.transport.pings),
    open.map(() => 1),
    'each session pinged once in the interval',
  )
  assert.ok(Math.max(...perTick) < open.length, `never all in one tick: ${perTick}`)
  assert.equal(calls.length, perTick.filter((n) => n > 0).length, 'one presence call per slice')
  assert.deepEqual(
    calls.map((c) => c.length),
    perTick.filter((n) => n > 0),
  )
  assert.equal(m.presence.refreshes, open.length)

  // half answer their ping; the others are terminated on their next visit, one slice at a time
  for (const [i, o] of open.entries()) if (i % 2 === 0) o.session.pong()
  mock.timers.tick(HEARTBEAT_MS)
  for (const [i, o] of open.entries()) assert.equal(o.transport.terminated, i % 2 === 1, `session ${i}`)
  assert.equal(m.hub.size, open.length / 2)
})

test('the drain tells every session to reconnect, spread over DRAIN_MS, on one timer', async () => {
  const transports: FakeTransport[] = []
  for (let i = 0; i < 50; i++) {
    const transport = new FakeTransport()
    const principal = { userId: `d${i}`, issuedAt: Date.now(), expiresAt: Date.now() + 3_600_000, topics: [] }
    assert.ok(m.hub.open(transport, principal, {}))
    transports.push(transport)
  }
  await settle()
  mock.timers.enable({ apis: ['setTimeout'] })
  let done = false
  const drained = m.hub.drain(1000, 5000).then(() => {
    done = true
  })
  assert.equal(m.hub.draining, true)
  const closed = () => transports.filter((t) => t.closedWith).length
  // 20 ms steps (each step schedules the next)
  const advance = (ms: number) => {
    for (let t = 0; t < ms; t += 20) mock.timers.tick(20)
  }
  advance(20)
  assert.equal(closed(), 1, 'the first step closes its share only')
  advance(480)
  assert.equal(closed(), 25, 'half of them by half of DRAIN_MS')
  advance(500)
  await drained
  assert.equal(done, true)
  for (const t of transports) {
    assert.deepEqual(t.closedWith, { code: 1012, reason: 'server restart' })
    const [reconnect] = t.frames<{ afterMs: number }>('reconnect')
    assert.ok(reconnect && reconnect.afterMs >= 0 && reconnect.afterMs < 5000)
  }
  assert.equal(m.hub.size, 0)
})
