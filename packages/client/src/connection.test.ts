// The connection loop on its own, with a fake clock and scriptable sockets: frames are handed to a
// stand-in for dispatch.ts that opens the session on `welcome`.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Connection, createConnection } from './connection.ts'
import { Emitter } from './emitter.ts'
import { TidingsError } from './errors.ts'
import type { StateEvent, TidingsEvents } from './events.ts'
import { resolveOptions, type TidingsClientOptions } from './options.ts'
import { createResumePosition } from './resume.ts'
import { memoryStorage } from './storage.ts'
import { FakeClock, fakeWebSocket, settle, until } from './testing/fakes.ts'
import { welcome } from './testing/harness.ts'

function setup(overrides: Partial<TidingsClientOptions> = {}) {
  const clock = new FakeClock()
  const ws = fakeWebSocket()
  const opts = resolveOptions({
    url: 'wss://gw.example',
    getToken: () => 'jwt',
    WebSocket: ws.WebSocket,
    clock,
    random: () => 0.5,
    sse: false,
    network: false,
    ...overrides,
  })
  const emitter = new Emitter<TidingsEvents>(() => undefined)
  const states: StateEvent[] = []
  const errors: TidingsError[] = []
  const revoked: TidingsError[] = []
  emitter.on('state', (s) => states.push(s))
  emitter.on('error', (e) => errors.push(e))
  emitter.on('revoked', (e) => revoked.push(e))
  let stopped = 0
  const report = (e: TidingsError) => void emitter.emit('error', e)
  const resume = createResumePosition(memoryStorage({ epoch: 'e1', lastSeq: 3 }), report)
  const connection: Connection = createConnection(opts, {
    emitter,
    report,
    resume,
    frame: (frame) => {
      if (frame.type !== 'welcome' || !connection.beginSession(frame)) return
      connection.sessionOpened()
      connection.announceOpen()
    },
    stopped: () => stopped++,
  })
  const open = async (i: number, frame: object = welcome()) => {
    await until(() => ws.sockets.length > i, `socket #${i}`)
    const s = ws.sockets[i]!
    s.open()
    s.receive(frame)
    await settle()
    return s
  }
  return { clock, ws, connection, states, errors, revoked, open, stopped: () => stopped }
}

test('connects with the token and the stored position; welcome resolves connect() and opens the session', async () => {
  const t = setup()
  const connected = t.connection.connect()
  const s = await t.open(0)
  await connected
  assert.equal(s.url, 'wss://gw.example/v1/ws?lastSeq=3&epoch=e1')
  assert.deepEqual(s.protocols, ['tidings.v1', 'bearer.jwt'])
  assert.equal(t.connection.state, 'open')
  assert.equal(t.connection.resumedFromPosition, true)
  assert.equal(t.connection.session?.sessionId, 's1')
  assert.equal(t.connection.liveWebSocket?.kind, 'websocket')
  t.connection.acks.handled(4)
  t.connection.acks.flush()
  assert.deepEqual(s.sentOf('ack'), [{ type: 'ack', seq: 4, epoch: 'e1' }])
  await t.connection.shutdown('client', new TidingsError('transport', 'closed'))
  assert.deepEqual(s.closedWith, { code: 1000, reason: 'client closed' })
  assert.equal(t.stopped(), 1)
  assert.deepEqual(
    t.states.map((x) => x.state),
    ['connecting', 'open', 'closed'],
  )
})

test('no welcome within connectTimeoutMs: the attempt is dropped and retried after the backoff', async () => {
  const t = setup({ connectTimeoutMs: 5000 })
  void t.connection.connect()
  await until(() => t.ws.sockets.length === 1)
  t.ws.sockets[0]!.open()
  await t.clock.advance(4999)
  assert.equal(t.connection.state, 'connecting')
  await t.clock.advance(1)
  assert.deepEqual(t.states.at(-1), {
    state: 'reconnecting',
    attempt: 1,
    delayMs: 250,
    code: 1006,
    reason: 'websocket: timed out waiting for welcome',
  })
  assert.equal(t.ws.sockets[0]!.closedWith?.reason, 'connect timeout')
  await t.clock.advance(250)
  await until(() => t.ws.sockets.length === 2)
  await t.connection.shutdown('client', new TidingsError('transport', 'closed'))
})

test('the watchdog pings after one silent heartbeat and drops the connection after two', async () => {
  const t = setup()
  void t.connection.connect()
  const s = await t.open(0, welcome('e1', { heartbeatMs: 1000 }))
  await t.clock.advance(1000)
  assert.deepEqual(s.sentOf('ping'), [{ type: 'ping' }])
  await t.clock.advance(999)
  assert.equal(t.connection.state, 'open')
  await t.clock.advance(1)
  assert.equal(s.closedWith?.reason, 'heartbeat timeout')
  const last = t.states.at(-1)
  assert.equal(last?.state === 'reconnecting' && last.reason, 'websocket: no frame for 2000 ms')
  await t.connection.shutdown('client', new TidingsError('transport', 'closed'))
})

test('4003 stops the loop: closed, revoked, connect() rejects, no retry', async () => {
  const t = setup()
  void t.connection.connect()
  const s = await t.open(0)
  const again = t.connection.connect() // already open: resolves at once
  await again
  s.serverClose(4003, 'revoked')
  await settle()
  assert.equal(t.connection.state, 'closed')
  assert.equal(t.connection.running, false)
  assert.equal(t.revoked.length, 1)
  assert.deepEqual(t.clock.pending(), [], 'no retry scheduled')
  const next = t.connection.connect()
  await until(() => t.ws.sockets.length === 2, 'a new connect() connects again')
  await t.connection.shutdown('client', new TidingsError('transport', 'closed'))
  await assert.rejects(next, TidingsError)
})

test('after 4003 nothing outlives the loop: no ack timer, no network listener; connect() subscribes again', async () => {
  let listeners = 0
  const network = {
    isOnline: () => true,
    subscribe: () => {
      listeners++
      return () => void listeners--
    },
  }
  const t = setup({ network })
  void t.connection.connect()
  const s = await t.open(0)
  assert.equal(listeners, 1)
  t.connection.acks.handled(4) // a notification was handled: its ack waits for the batch timer
  assert.deepEqual(t.clock.pending().length, 2, 'the ack timer and the watchdog')
  s.serverClose(4003, 'revoked')
  await settle()
  assert.equal(t.connection.state, 'closed')
  assert.deepEqual(t.clock.pending(), [])
  assert.equal(listeners, 0)
  void t.connection.connect()
  assert.equal(listeners, 1)
  await t.connection.shutdown('client', new TidingsError('transport', 'closed'))
  assert.equal(listeners, 0)
})
