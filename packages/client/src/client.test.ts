import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTidingsClient } from './client.ts'
import type { FetchLike } from './sse.ts'
import { localStorageAdapter, memoryStorage, type StorageLike } from './storage.ts'
import { settle, until } from './testing/fakes.ts'
import { note, setup, welcome } from './testing/harness.ts'

test('connects with the token as subprotocol and resolves on welcome', async () => {
  const t = setup()
  const connected = t.client.connect()
  const s = await t.accept(0)
  await connected
  assert.equal(s.url, 'wss://gw.example/v1/ws')
  assert.deepEqual(s.protocols, ['tidings.v1', 'bearer.jwt-1'])
  assert.deepEqual(t.tokens, ['connect'])
  assert.equal(t.client.state, 'open')
  assert.deepEqual(t.client.session, {
    url: 'wss://gw.example',
    sessionId: 's1',
    userId: 'u1',
    epoch: 'e1',
    heartbeatMs: 10_000,
    transport: 'websocket',
  })
  assert.deepEqual(
    t.states.map((x) => x.state),
    ['connecting', 'open'],
  )
  await t.client.close()
  assert.deepEqual(s.closedWith, { code: 1000, reason: 'client closed' })
  assert.equal(t.client.state, 'closed')
})

test('handles notifications in order, awaits the handler, then acks in batches', async () => {
  const order: string[] = []
  let release!: () => void
  const t = setup({
    ack: { intervalMs: 500, maxBatch: 3 },
    onNotification: async (n) => {
      order.push(`start ${n.seq}`)
      if (n.seq === 1) await new Promise<void>((r) => (release = r))
      order.push(`end ${n.seq}`)
    },
  })
  void t.client.connect()
  const s = await t.accept(0)
  s.receive(note(1))
  s.receive(note(2))
  await settle()
  assert.deepEqual(order, ['start 1'], 'the next notification waits for the handler')
  assert.deepEqual(s.sentOf('ack'), [])
  release()
  await settle()
  assert.deepEqual(order, ['start 1', 'end 1', 'start 2', 'end 2'])
  assert.deepEqual(s.sentOf('ack'), [], 'batched: not yet')
  await t.clock.advance(500)
  assert.deepEqual(
    s.sentOf('ack'),
    [{ type: 'ack', seq: 2, epoch: 'e1' }],
    'after intervalMs, the highest seq',
  )
  for (const seq of [3, 4, 5]) s.receive(note(seq))
  await settle()
  assert.deepEqual(s.sentOf('ack').at(-1), { type: 'ack', seq: 5, epoch: 'e1' }, 'a full batch acks at once')
  s.receive(note(6))
  await settle()
  await t.client.close()
  assert.deepEqual(
    s.sentOf('ack').at(-1),
    { type: 'ack', seq: 6, epoch: 'e1' },
    'close acks what was handled',
  )
})

test('dedupes by id and by seq; a throwing handler is reported and still acked', async () => {
  const seen: string[] = []
  const t = setup({
    ack: { intervalMs: 100, maxBatch: 100 },
    onNotification: (n) => {
      seen.push(n.id)
      if (n.id === 'boom') throw new Error('app bug')
    },
  })
  void t.client.connect()
  const s = await t.accept(0)
  s.receive(note(1, 'a'))
  s.receive(note(2, 'a')) // same notification id again (new seq)
  s.receive(note(2, 'b')) // same seq again
  s.receive(note(3, 'boom'))
  await settle()
  assert.deepEqual(seen, ['a', 'boom'])
  assert.equal(t.errors.length, 1)
  assert.equal(t.errors[0]?.kind, 'handler')
  await t.clock.advance(100)
  assert.deepEqual(s.sentOf('ack'), [{ type: 'ack', seq: 3, epoch: 'e1' }])
  await t.client.close()
})

test('reconnects after a drop with full-jitter backoff and resumes with lastSeq + epoch', async () => {
  const storage = memoryStorage()
  const t = setup({ storage, random: () => 0.5 })
  void t.client.connect()
  const s0 = await t.accept(0)
  s0.receive(note(1))
  s0.receive(note(2))
  await settle()
  s0.serverClose(1006)
  await settle()
  const r = t.states.at(-1)
  assert.equal(r?.state, 'reconnecting')
  assert.equal(r?.state === 'reconnecting' && r.delayMs, 250, 'attempt 0: 0.5 · min(30000, 500·2^0)')
  await t.clock.advance(249)
  assert.equal(t.ws.sockets.length, 1)
  await t.clock.advance(1)
  await until(() => t.ws.sockets.length === 2)
  const s1 = t.socket(1)
  assert.equal(s1.query.get('lastSeq'), '2')
  assert.equal(s1.query.get('epoch'), 'e1')
  assert.equal(
    s1.query.get('lastId'),
    'n2',
    'the id at lastSeq: the server checks Redis did not reuse the seq',
  )
  assert.deepEqual(await storage.load(), { epoch: 'e1', lastSeq: 2, lastId: 'n2', userId: 'u1' })
  // a failure before welcome grows the delay: attempt 1 → 0.5 · 1000
  s1.fail()
  await settle()
  const r2 = t.states.at(-1)
  assert.equal(r2?.state === 'reconnecting' && r2.delayMs, 500)
  await t.clock.advance(500)
  const s2 = await t.accept(2)
  assert.deepEqual(s2.sentOf('ack'), [], 'not at once: a missed from 0 may follow the welcome')
  await t.clock.advance(1000)
  assert.deepEqual(
    s2.sentOf('ack'),
    [{ type: 'ack', seq: 2, epoch: 'e1' }],
    'a new connection re-acks the resume position, within the ack interval',
  )
  s2.receive(note(3))
  await settle()
  assert.deepEqual(t.handled, [1, 2, 3])
  await t.client.close()
})

test('urls: starts on the first gateway, every reconnect moves on to the next one (round robin)', async () => {
  const t = setup({
    url: undefined,
    urls: ['wss://gw-a.example', 'wss://gw-b.example/t', 'https://gw-c.example'],
  })
  void t.client.connect()
  const s0 = await t.accept(0)
  assert.equal(s0.url, 'wss://gw-a.example/v1/ws')
  assert.equal(t.client.session?.url, 'wss://gw-a.example')
  s0.receive(note(1))
  await settle()
  s0.serverClose(1006) // gateway A died
  await t.clock.advance(250)
  await until(() => t.ws.sockets.length === 2)
  const s1 = t.socket(1)
  assert.equal(
    s1.url,
    'wss://gw-b.example/t/v1/ws?lastSeq=1&epoch=e1&lastId=n1',
    'resumes on the next gateway',
  )
  s1.fail()
  await t.clock.advance(500)
  const s2 = await t.accept(2)
  assert.equal(s2.url, 'wss://gw-c.example/v1/ws?lastSeq=1&epoch=e1&lastId=n1')
  assert.equal(t.client.session?.url, 'https://gw-c.example')
  s2.serverClose(1006)
  await t.clock.advance(1000) // attempt 2: 0.5 · 500·2²
  await until(() => t.ws.sockets.length === 4)
  assert.equal(t.socket(3).url, 'wss://gw-a.example/v1/ws?lastSeq=1&epoch=e1&lastId=n1', 'and around again')
  await t.client.close()
})

test('url and urls: exactly one of the two, urls not empty', () => {
  const getToken = () => 'jwt'
  assert.throws(() => createTidingsClient({ url: 'wss://a', urls: ['wss://b'], getToken }), TypeError)
  assert.throws(() => createTidingsClient({ urls: [], getToken }), TypeError)
  assert.throws(() => createTidingsClient({ getToken }), TypeError)
  assert.throws(() => createTidingsClient({ urls: ['wss://a', 'not a url'], getToken }), TypeError)
})

test('epoch change resets lastSeq; missed is surfaced', async () => {
  const storage = memoryStorage({ epoch: 'old', lastSeq: 40, userId: 'u1' })
  const t = setup({ storage })
  const missed: unknown[] = []
  t.client.on('missed', (m) => missed.push(m))
  void t.client.connect()
  await until(() => t.ws.sockets.length === 1)
  assert.equal(t.socket(0).query.get('lastSeq'), '40')
  assert.equal(t.socket(0).query.get('epoch'), 'old')
  const s = await t.accept(0, welcome('new'))
  s.receive({ type: 'missed', afterSeq: 0, nextSeq: 1, epoch: 'new' })
  s.receive(note(1))
  s.receive(note(2))
  await settle()
  assert.deepEqual(missed, [{ afterSeq: 0, nextSeq: 1, epoch: 'new' }])
  assert.deepEqual(t.handled, [1, 2], 'seqs below the old lastSeq are not taken for duplicates')
  assert.deepEqual(await storage.load(), { epoch: 'new', lastSeq: 2, lastId: 'n2', userId: 'u1' })
  await t.client.close()
  assert.deepEqual(
    s.sentOf('ack'),
    [{ type: 'ack', seq: 2, epoch: 'new' }],
    'no ack of the old epoch’s seq 40',
  )
})

test('reauth: asks for a fresh token and sends auth on the live connection', async () => {
  const t = setup()
  void t.client.connect()
  const s = await t.accept(0)
  s.receive({ type: 'reauth', expiresAt: '2026-11-24T10:01:00.000Z' })
  await settle()
  assert.deepEqual(t.tokens, ['connect', 'reauth'])
  assert.deepEqual(s.sentOf('auth'), [{ type: 'auth', token: 'jwt-2' }])
  s.receive({ type: 'authenticated', expiresAt: '2026-11-24T11:00:00.000Z' })
  assert.equal(t.client.state, 'open')
  await t.client.close()
})

test('4001: a fresh token first, immediately; repeated 4001s back off', async () => {
  const t = setup()
  void t.client.connect()
  const s0 = await t.accept(0)
  s0.serverClose(4001, 'token expired')
  await settle()
  const r = t.states.at(-1)
  assert.equal(r?.state === 'reconnecting' && r.delayMs, 0)
  await t.clock.advance(0)
  await until(() => t.ws.sockets.length === 2)
  assert.deepEqual(t.tokens, ['connect', 'rejected'])
  assert.deepEqual(t.socket(1).protocols, ['tidings.v1', 'bearer.jwt-2'])
  t.socket(1).open()
  t.socket(1).serverClose(4001)
  await settle()
  const r2 = t.states.at(-1)
  assert.ok(r2?.state === 'reconnecting' && r2.delayMs > 0, 'the second rejection in a row waits')
  await t.clock.advance(r2.state === 'reconnecting' ? r2.delayMs : 0)
  const s2 = await t.accept(2)
  assert.deepEqual(t.tokens, ['connect', 'rejected', 'rejected'])
  s2.serverClose(1006)
  await t.clock.advance(10_000)
  assert.equal(t.tokens.at(-1), 'connect', 'after a good session, cached tokens are fine again')
  await t.client.close()
})

test('1012 after reconnect waits exactly the hinted delay, and acks before going', async () => {
  const t = setup({ ack: { intervalMs: 60_000, maxBatch: 100 } })
  void t.client.connect()
  const s0 = await t.accept(0)
  s0.receive(note(1))
  await settle()
  s0.receive({ type: 'reconnect', afterMs: 1234 })
  assert.deepEqual(s0.sentOf('ack'), [{ type: 'ack', seq: 1, epoch: 'e1' }])
  s0.serverClose(1012, 'restart')
  await settle()
  const r = t.states.at(-1)
  assert.equal(r?.state === 'reconnecting' && r.delayMs, 1234)
  await t.clock.advance(1233)
  assert.equal(t.ws.sockets.length, 1)
  await t.clock.advance(1)
  await until(() => t.ws.sockets.length === 2)
  await t.client.close()
})

test('1013/4008/4029 back off longer; client-bug codes surface an error and never spin', async () => {
  for (const code of [1013, 4008, 4029, 1003, 1007, 1008, 1009]) {
    const t = setup({ random: () => 0 })
    void t.client.connect()
    const s = await t.accept(0)
    s.serverClose(code)
    await settle()
    const r = t.states.at(-1)
    assert.ok(r?.state === 'reconnecting' && r.delayMs >= 2500, `${code}: ${JSON.stringify(r)}`)
    const bug = [1003, 1007, 1008, 1009].includes(code)
    assert.equal(t.errors.length, bug ? 1 : 0, `${code}: errors`)
    if (bug) {
      assert.equal(t.errors[0]?.kind, 'client_bug')
      assert.equal(t.errors[0]?.closeCode, code)
    }
    await t.client.close()
  }
})

test('heartbeat watchdog: pings after one silent heartbeat, reconnects after two', async () => {
  const t = setup()
  void t.client.connect()
  const s = await t.accept(0, welcome('e1', { heartbeatMs: 1000 }))
  await t.clock.advance(999)
  assert.deepEqual(s.sentOf('ping'), [])
  await t.clock.advance(1)
  assert.deepEqual(s.sentOf('ping'), [{ type: 'ping' }])
  s.receive({ type: 'pong' }) // any frame feeds the watchdog
  await t.clock.advance(1999)
  assert.equal(t.client.state, 'open')
  assert.equal(s.sentOf('ping').length, 2)
  await t.clock.advance(1)
  assert.equal(t.client.state, 'reconnecting')
  assert.ok(s.closedWith, 'the dead socket was closed')
  const r = t.states.at(-1)
  assert.equal(r?.state === 'reconnecting' && r.reason, 'websocket: no frame for 2000 ms')
  await t.client.close()
})

test('connect timeout: no welcome → give up on the attempt and retry', async () => {
  const t = setup({ connectTimeoutMs: 5000 })
  void t.client.connect()
  await until(() => t.ws.sockets.length === 1)
  t.socket(0).open()
  await t.clock.advance(5000)
  assert.equal(t.client.state, 'reconnecting')
  assert.ok(t.socket(0).closedWith)
  await t.client.close()
})

test('topics are (re)subscribed on every connection; invalid names throw', async () => {
  const t = setup({ topics: ['announcements'] })
  void t.client.connect()
  const s0 = await t.accept(0)
  t.client.subscribe('promo')
  t.client.subscribe('promo')
  assert.deepEqual(s0.sentOf('subscribe'), [
    { type: 'subscribe', topic: 'announcements' },
    { type: 'subscribe', topic: 'promo' },
  ])
  t.client.unsubscribe('announcements')
  assert.deepEqual(s0.sentOf('unsubscribe'), [{ type: 'unsubscribe', topic: 'announcements' }])
  assert.throws(() => t.client.subscribe('no spaces'), TypeError)
  s0.serverClose(1006)
  await t.clock.advance(1000)
  const s1 = await t.accept(1)
  assert.deepEqual(s1.sentOf('subscribe'), [{ type: 'subscribe', topic: 'promo' }])
  assert.deepEqual(t.client.topics, ['promo'])
  await t.client.close()
})

test('broadcasts are emitted once; server error frames become error events', async () => {
  const t = setup()
  const got: string[] = []
  t.client.on('broadcast', (b) => got.push(`${b.topic}/${b.id}`))
  void t.client.connect()
  const s = await t.accept(0)
  const b = {
    type: 'broadcast',
    topic: 'promo',
    id: 'b1',
    kind: 'k',
    createdAt: 'x',
    title: 't',
    body: 'b',
    data: {},
  }
  s.receive(b)
  s.receive(b)
  s.receive({ type: 'error', code: 'forbidden_topic', message: 'nope' })
  s.receive({ type: 'from-the-future' })
  await settle()
  assert.deepEqual(got, ['promo/b1'])
  assert.equal(t.errors.length, 1)
  assert.equal(t.errors[0]?.kind, 'server')
  assert.equal(t.errors[0]?.serverCode, 'forbidden_topic')
  await t.client.close()
})

test('ping() resolves with the round trip', async () => {
  const t = setup()
  await assert.rejects(t.client.ping(), /open WebSocket/)
  void t.client.connect()
  const s = await t.accept(0)
  const p = t.client.ping()
  assert.deepEqual(s.sentOf('ping'), [{ type: 'ping' }])
  await t.clock.advance(42)
  s.receive({ type: 'pong' })
  assert.equal(await p, 42)
  const lost = t.client.ping()
  s.serverClose(1006)
  await assert.rejects(lost, /connection closed/)
  await t.client.close()
})

test('getToken failure is reported and retried with backoff', async () => {
  let fail = true
  const t = setup({
    getToken: () => {
      if (fail) throw new Error('offline')
      return 'jwt'
    },
  })
  void t.client.connect()
  await settle()
  assert.equal(t.errors[0]?.kind, 'token')
  assert.equal(t.client.state, 'reconnecting')
  assert.equal(t.ws.sockets.length, 0)
  fail = false
  t.client.reconnect() // skip the wait
  await t.accept(0)
  assert.equal(t.client.state, 'open')
  await t.client.close()
})

test('close() before the first welcome rejects connect() and stops retrying', async () => {
  const t = setup()
  const p = t.client.connect()
  await until(() => t.ws.sockets.length === 1)
  t.socket(0).fail()
  await settle()
  await t.client.close()
  await assert.rejects(p, /closed before/)
  await t.clock.advance(120_000)
  assert.equal(t.ws.sockets.length, 1)
  assert.deepEqual(t.clock.pending(), [], 'no timers left')
  assert.deepEqual(t.states.at(-1), { state: 'closed', reason: 'client' })
})

test('a position stored for another user is dropped and the connection restarts without it', async () => {
  const storage = memoryStorage({ epoch: 'e1', lastSeq: 9, userId: 'someone-else' })
  const t = setup({ storage })
  void t.client.connect()
  await t.accept(0)
  await until(() => t.ws.sockets.length === 2)
  assert.equal(t.socket(0).query.get('lastSeq'), '9')
  assert.equal(t.socket(1).query.get('lastSeq'), null)
  const s1 = await t.accept(1)
  s1.receive(note(1))
  await settle()
  assert.deepEqual(t.handled, [1])
  assert.deepEqual(await storage.load(), { epoch: 'e1', lastSeq: 1, lastId: 'n1', userId: 'u1' })
  await t.client.resetResume()
  assert.equal(await storage.load(), null)
  await t.client.close()
})

test('persists through a localStorage-like adapter', async () => {
  const items = new Map<string, string>()
  const fake: StorageLike = {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => void items.set(k, v),
    removeItem: (k) => void items.delete(k),
  }
  const t = setup({ storage: localStorageAdapter(fake, 'me') })
  void t.client.connect()
  const s = await t.accept(0)
  s.receive(note(1))
  s.receive(note(2))
  await t.client.flush()
  assert.deepEqual(JSON.parse(items.get('me')!), { epoch: 'e1', lastSeq: 2, lastId: 'n2', userId: 'u1' })
  await t.client.close()
})

test('one synchronous storage failure (localStorage over quota) neither stops later writes nor hangs close()', async () => {
  const items = new Map<string, string>()
  let quotaLeft = 0
  const fake: StorageLike = {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => {
      if (quotaLeft-- <= 0) throw new Error('QuotaExceededError')
      items.set(k, v)
    },
    removeItem: (k) => void items.delete(k),
  }
  const t = setup({ storage: localStorageAdapter(fake, 'me') })
  void t.client.connect()
  const s = await t.accept(0) // the welcome's write fails
  assert.deepEqual(
    t.errors.map((e) => e.message),
    ['saving the resume position failed'],
  )
  quotaLeft = 100 // space was freed
  s.receive(note(1))
  s.receive(note(2))
  await settle()
  assert.deepEqual(JSON.parse(items.get('me') ?? 'null'), {
    epoch: 'e1',
    lastSeq: 2,
    lastId: 'n2',
    userId: 'u1',
  })
  // Before the fix, close() spun on a settled write in a microtask loop: the app froze.
  await t.client.close()
  assert.equal(t.client.state, 'closed')
})

/** A scriptable SSE endpoint behind a fake fetch(). */
function fakeSseFetch() {
  const enc = new TextEncoder()
  const streams: Array<{
    url: string
    headers: Record<string, string>
    push: (s: string) => void
    end: () => void
  }> = []
  const acks: Array<{ body: unknown; headers: Record<string, string> }> = []
  const fetch: FetchLike = async (url, init) => {
    if (init.method === 'POST') {
      acks.push({ body: JSON.parse(init.body ?? 'null'), headers: init.headers })
      return { ok: true, status: 204, body: null }
    }
    let ctl!: ReadableStreamDefaultController<Uint8Array>
    const body = new ReadableStream<Uint8Array>({ start: (c) => (ctl = c) })
    streams.push({
      url,
      headers: init.headers,
      push: (s) => ctl.enqueue(enc.encode(s)),
      end: () => ctl.close(),
    })
    return { ok: true, status: 200, body }
  }
  const frame = (f: { type: string }, id?: string) =>
    `event: ${f.type}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(f)}\n\n`
  return { fetch, streams, acks, frame }
}

test('falls back to SSE when the WebSocket cannot be opened, acks over POST, tries the WebSocket again later', async () => {
  const sse = fakeSseFetch()
  const t = setup({
    sse: { afterFailures: 2, retryWebSocketMs: 60_000 },
    fetch: sse.fetch,
    ack: { intervalMs: 100, maxBatch: 10 },
  })
  void t.client.connect()
  await until(() => t.ws.sockets.length === 1)
  t.socket(0).fail()
  await t.clock.advance(1000)
  t.socket(1).fail()
  await t.clock.advance(1000)
  await until(() => sse.streams.length === 1, 'SSE request')
  assert.equal(t.ws.sockets.length, 2)
  const st = sse.streams[0]!
  assert.equal(st.url, 'https://gw.example/v1/sse')
  assert.equal(st.headers.authorization, 'Bearer jwt-3')
  st.push(sse.frame(welcome()))
  st.push(sse.frame(note(1), 'e1:1'))
  await until(() => t.client.state === 'open' && t.handled.length === 1)
  assert.equal(t.client.session?.transport, 'sse')
  await t.clock.advance(100)
  assert.deepEqual(sse.acks, [
    {
      body: { seq: 1, epoch: 'e1' },
      headers: { authorization: 'Bearer jwt-3', 'content-type': 'application/json' },
    },
  ])
  // the stream ends: reconnect over SSE, resuming
  st.end()
  await until(() => t.client.state === 'reconnecting')
  await t.clock.advance(1000)
  await until(() => sse.streams.length === 2)
  assert.equal(sse.streams[1]!.url, 'https://gw.example/v1/sse?lastSeq=1&epoch=e1&lastId=n1')
  assert.equal(sse.streams[1]!.headers['last-event-id'], undefined, 'the query holds the position and its id')
  sse.streams[1]!.push(sse.frame(welcome()))
  await until(() => t.client.state === 'open')
  // after retryWebSocketMs the WebSocket is tried again (with the position)
  await t.clock.advance(60_000)
  await until(() => t.ws.sockets.length === 3, 'WebSocket retry')
  assert.equal(t.socket(2).query.get('lastSeq'), '1')
  const s = await t.accept(2)
  assert.equal(t.client.session?.transport, 'websocket')
  s.receive(note(2))
  await t.client.close()
  assert.deepEqual(t.handled, [1, 2])
})

test('SSE: reauth reconnects with the fresh token; 401 asks for a fresh token', async () => {
  const sse = fakeSseFetch()
  let refuse = 0
  const fetch: FetchLike = (url, init) =>
    refuse-- > 0 ? Promise.resolve({ ok: false, status: 401, body: null }) : sse.fetch(url, init)
  // No WebSocket at all in this environment: SSE from the start.
  const g = globalThis as { WebSocket?: unknown }
  const saved = g.WebSocket
  g.WebSocket = undefined
  try {
    const t = setup({ WebSocket: undefined, fetch, sse: {} })
    void t.client.connect()
    await until(() => sse.streams.length === 1)
    sse.streams[0]!.push(sse.frame(welcome()))
    await until(() => t.client.state === 'open')
    sse.streams[0]!.push(sse.frame({ type: 'reauth' }))
    await until(() => sse.streams.length === 2, 'reconnect with the new token')
    assert.deepEqual(t.tokens, ['connect', 'reauth'])
    assert.equal(sse.streams[1]!.headers.authorization, 'Bearer jwt-2')
    sse.streams[1]!.push(sse.frame(welcome()))
    await until(() => t.client.state === 'open')
    refuse = 1
    sse.streams[1]!.end()
    await until(() => t.client.state === 'reconnecting')
    await t.clock.advance(1000)
    await until(() => sse.streams.length === 3)
    const r = t.states.filter((x) => x.state === 'reconnecting')[1]
    assert.ok(r?.state === 'reconnecting' && r.code === 4001 && r.delayMs === 0, JSON.stringify(r))
    assert.deepEqual(t.tokens, ['connect', 'reauth', 'connect', 'rejected'])
    assert.equal(sse.streams[2]!.headers.authorization, 'Bearer jwt-4')
    await t.client.close()
  } finally {
    g.WebSocket = saved
  }
})

test('offline: when SSE gets no HTTP response either, the client alternates instead of sticking to SSE', async () => {
  let sseCalls = 0
  const t = setup({
    sse: { afterFailures: 2 },
    fetch: () => {
      sseCalls++
      return Promise.reject(new TypeError('fetch failed'))
    },
  })
  void t.client.connect()
  const next = async () => {
    const r = t.states.at(-1)
    assert.equal(r?.state, 'reconnecting')
    await t.clock.advance(r?.state === 'reconnecting' ? r.delayMs : 0)
  }
  await until(() => t.ws.sockets.length === 1)
  t.socket(0).fail()
  await next()
  t.socket(1).fail()
  await next()
  await until(() => sseCalls === 1, 'SSE attempt')
  await until(() => t.client.state === 'reconnecting')
  await next()
  await until(() => t.ws.sockets.length === 3, 'back to the WebSocket')
  t.socket(2).fail()
  await next()
  await until(() => sseCalls === 2, 'SSE again')
  await t.client.close()
})

test('EventSource mode: the token goes in access_token, the position in the query', async () => {
  const created: string[] = []
  class FakeES {
    onopen: ((e: unknown) => void) | null = null
    onerror: ((e: unknown) => void) | null = null
    onmessage: ((e: { data?: unknown; lastEventId?: string }) => void) | null = null
    readonly listeners = new Map<string, (e: { data?: unknown; lastEventId?: string }) => void>()
    constructor(url: string) {
      created.push(url)
      last = this
    }
    addEventListener(type: string, fn: (e: { data?: unknown; lastEventId?: string }) => void) {
      this.listeners.set(type, fn)
    }
    close() {}
  }
  let last: FakeES | undefined
  const posts: Array<[string, string | undefined]> = []
  const t = setup({
    storage: memoryStorage({ epoch: 'e1', lastSeq: 3, userId: 'u1' }),
    sse: { mode: 'eventsource', afterFailures: 1 },
    EventSource: FakeES,
    fetch: async (url, init) => {
      posts.push([url, init.body])
      return { ok: true, status: 204 }
    },
  })
  void t.client.connect()
  await until(() => t.ws.sockets.length === 1)
  t.socket(0).fail()
  await t.clock.advance(1000)
  await until(() => created.length === 1)
  assert.equal(created[0], 'https://gw.example/v1/sse?lastSeq=3&epoch=e1&access_token=jwt-2')
  last!.onopen?.({})
  last!.listeners.get('welcome')?.({ data: JSON.stringify(welcome()) })
  last!.listeners.get('notification')?.({ data: JSON.stringify(note(4)), lastEventId: 'e1:4' })
  await until(() => t.handled.length === 1)
  assert.deepEqual(t.handled, [4])
  assert.equal(t.client.session?.transport, 'sse')
  await t.client.close()
  assert.deepEqual(
    posts.map(([u, body]) => `${u} ${body}`),
    [
      // on close; it covers the resume position (3), which welcome re-acks only at the ack interval
      'https://gw.example/v1/inbox/ack {"seq":4,"epoch":"e1"}',
    ],
  )
})
