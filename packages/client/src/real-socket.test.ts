// The SDK over a real WebSocket (Node's global WebSocket, i.e. undici) against a small,
// protocol-faithful gateway written with `ws`: upgrade checks, welcome, inbox replay after
// lastSeq/epoch, missed, acks, reauth, `reconnect` + 1012, 4001. The real gateway gets its own
// end-to-end tests; this one pins down the client's side of the wire.
import assert from 'node:assert/strict'
import { EventEmitter, once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, type TestContext, test } from 'node:test'
import { type WebSocket, WebSocketServer } from 'ws'
import { createTidingsClient, type StateEvent, type TokenReason } from './client.ts'
import type { MissedEvent, TidingsClient } from './index.ts'
import type { ClientFrame, NotificationFrame, ServerFrame } from './wire.ts'

const changed = new EventEmitter()
changed.setMaxListeners(100)
const bump = () => changed.emit('change')

/** Resolves when `cond()` holds, re-checking on every client/server event; fails after `ms`. */
async function when(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  if (cond()) return
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), ms)
  try {
    while (!cond()) await once(changed, 'change', { signal: ac.signal })
  } catch {
    throw new Error(`timed out waiting for ${what}`)
  } finally {
    clearTimeout(timer)
  }
}

interface Connection {
  ws: WebSocket
  token: string
  query: URLSearchParams
  received: ClientFrame[]
}

class MiniGateway {
  readonly valid = new Set<string>()
  epoch = 'ep-1'
  inbox: NotificationFrame[] = []
  acked = 0
  nextSeq = 1
  refused = 0
  readonly connections: Connection[] = []
  private readonly live = new Set<Connection>()
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('tidings.v1') ? 'tidings.v1' : false),
  })
  readonly http: Server = createServer((_req, res) => res.writeHead(404).end())

  constructor() {
    this.http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://gw')
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
      const token = offered.find((p) => p.startsWith('bearer.'))?.slice('bearer.'.length) ?? ''
      if (url.pathname !== '/v1/ws' || !offered.includes('tidings.v1') || !this.valid.has(token)) {
        this.refused++
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
        bump()
        return
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.session(ws, token, url.searchParams))
    })
  }

  async listen(): Promise<string> {
    this.http.listen(0, '127.0.0.1')
    await once(this.http, 'listening')
    return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.ws.terminate()
    this.wss.close()
    this.http.close()
    await once(this.http, 'close')
  }

  private send(c: Connection, frame: ServerFrame): void {
    c.ws.send(JSON.stringify(frame))
  }

  private session(ws: WebSocket, token: string, query: URLSearchParams): void {
    const c: Connection = { ws, token, query, received: [] }
    this.connections.push(c)
    this.send(c, {
      type: 'welcome',
      sessionId: `s${this.connections.length}`,
      userId: 'u1',
      epoch: this.epoch,
      heartbeatMs: 30_000,
      protocol: 1,
    })
    const epoch = query.get('epoch')
    const sameEpoch = epoch === this.epoch
    const lastSeq = sameEpoch ? Number(query.get('lastSeq') ?? 0) : 0
    const replay = this.inbox.filter((n) => n.seq > lastSeq)
    const floor = Math.max(lastSeq, this.acked)
    const first = replay[0]?.seq ?? this.nextSeq
    if ((epoch !== null && !sameEpoch) || first > floor + 1) {
      this.send(c, { type: 'missed', afterSeq: sameEpoch ? floor : 0, nextSeq: first, epoch: this.epoch })
    }
    for (const n of replay) this.send(c, n)
    this.live.add(c)
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ClientFrame
      c.received.push(frame)
      if (frame.type === 'ack') {
        this.acked = Math.max(this.acked, frame.seq)
        this.inbox = this.inbox.filter((n) => n.seq > this.acked)
      } else if (frame.type === 'auth') {
        if (this.valid.has(frame.token))
          this.send(c, { type: 'authenticated', expiresAt: '2030-01-01T00:00:00.000Z' })
        else ws.close(4001, 'invalid token')
      } else if (frame.type === 'ping') this.send(c, { type: 'pong' })
      bump()
    })
    ws.on('close', () => {
      this.live.delete(c)
      bump()
    })
    bump()
  }

  /** A notification written for the user: kept in the inbox, sent to live sessions. */
  push(): number {
    const seq = this.nextSeq++
    const n: NotificationFrame = {
      type: 'notification',
      seq,
      id: `${this.epoch}-n${seq}`,
      kind: 'loan.decision',
      createdAt: new Date(0).toISOString(),
      title: `Decision ${seq}`,
      body: 'b',
      data: { loanId: `L-${seq}` },
    }
    this.inbox.push(n)
    for (const c of this.live) this.send(c, n)
    return seq
  }

  /** Graceful shutdown: `reconnect` then close 1012. */
  restart(afterMs: number): void {
    for (const c of this.live) {
      this.send(c, { type: 'reconnect', afterMs })
      c.ws.close(1012, 'restart')
    }
    this.live.clear()
  }

  /** Redis lost the user's state: new epoch, empty inbox. */
  loseState(epoch: string): void {
    this.epoch = epoch
    this.inbox = []
    this.acked = 0
    this.nextSeq = 1
  }

  reauth(): void {
    for (const c of this.live) this.send(c, { type: 'reauth', expiresAt: '2030-01-01T00:00:00.000Z' })
  }

  expire(token: string): void {
    this.valid.delete(token)
    for (const c of this.live) if (c.token === token) c.ws.close(4001, 'token expired')
  }

  get liveCount(): number {
    return this.live.size
  }
}

const gw = new MiniGateway()
let url = ''
before(async () => {
  url = await gw.listen()
})
after(() => gw.stop())

function client(t: TestContext, tokens: string[]) {
  const handled: number[] = []
  const missed: MissedEvent[] = []
  const states: StateEvent[] = []
  const reasons: TokenReason[] = []
  const c: TidingsClient = createTidingsClient({
    url,
    getToken: ({ reason }) => {
      reasons.push(reason)
      return tokens[Math.min(reasons.length - 1, tokens.length - 1)]!
    },
    onNotification: (n) => {
      handled.push(n.seq)
      bump()
    },
    backoff: { baseMs: 10, capMs: 50 },
    ack: { intervalMs: 5, maxBatch: 100 },
    sse: false,
  })
  c.on('missed', (m) => {
    missed.push(m)
    bump()
  })
  c.on('state', (s) => {
    states.push(s)
    bump()
  })
  c.on('error', (e) => assert.fail(e))
  t.after(() => c.close())
  return { c, handled, missed, states, reasons }
}

test('replay, live, acks, then 1012 after `reconnect`: resumes with lastSeq + epoch after the hinted delay', async (t) => {
  gw.valid.add('tok-a')
  gw.push()
  gw.push() // written while the user was offline
  const k = client(t, ['tok-a'])
  await k.c.connect()
  await when(() => k.handled.length === 2, 'replay of 1, 2')
  const seq3 = gw.push()
  await when(() => k.handled.length === 3 && gw.acked === seq3, 'live 3 and its ack')
  const first = gw.connections.length - 1
  assert.equal(gw.connections[first]!.query.get('lastSeq'), null, 'nothing to resume from yet')

  gw.restart(40)
  gw.push() // 4: written while the client is away
  await when(() => k.handled.length === 4, 'replay of 4 on the new connection')
  const resumed = gw.connections[first + 1]!
  assert.equal(resumed.query.get('lastSeq'), '3')
  assert.equal(resumed.query.get('epoch'), 'ep-1')
  const rec = k.states.find((s) => s.state === 'reconnecting')
  assert.ok(rec?.state === 'reconnecting' && rec.code === 1012 && rec.delayMs === 40, JSON.stringify(rec))

  gw.push()
  await when(() => k.handled.length === 5 && gw.acked === 5, 'live 5 acked')
  assert.deepEqual(k.handled, [1, 2, 3, 4, 5], 'each once, in order')
  assert.deepEqual(k.missed, [])
  assert.equal(gw.inbox.length, 0, 'acks trimmed the inbox')
  await k.c.close()
  await when(() => gw.liveCount === 0, 'socket closed')
})

test('4001: a fresh token is fetched before reconnecting; reauth sends auth', async (t) => {
  gw.valid.add('tok-b1')
  const k = client(t, ['tok-b1', 'tok-b2', 'tok-b3'])
  await k.c.connect()
  const first = gw.connections.length - 1
  assert.equal(gw.connections[first]!.token, 'tok-b1')

  gw.valid.add('tok-b2')
  gw.reauth()
  await when(() => gw.connections[first]!.received.some((f) => f.type === 'auth'), 'auth frame')
  assert.deepEqual(
    gw.connections[first]!.received.filter((f) => f.type === 'auth'),
    [{ type: 'auth', token: 'tok-b2' }],
  )

  gw.valid.add('tok-b3')
  gw.expire('tok-b1')
  await when(() => gw.connections.length === first + 2 && k.c.state === 'open', 'reconnected')
  assert.deepEqual(k.reasons, ['connect', 'reauth', 'rejected'])
  assert.equal(gw.connections[first + 1]!.token, 'tok-b3')
  await k.c.close()
})

test('epoch change: missed is emitted, lastSeq restarts, new seq 1 is not taken for a duplicate', async (t) => {
  gw.valid.add('tok-c')
  const k = client(t, ['tok-c'])
  await k.c.connect()
  const n = gw.push()
  await when(() => k.handled.at(-1) === n && gw.acked === n, 'a notification, acked')
  gw.loseState('ep-2')
  gw.restart(0)
  await when(() => k.missed.length === 1, 'missed')
  assert.deepEqual(k.missed, [{ afterSeq: 0, nextSeq: 1, epoch: 'ep-2' }])
  const resumed = gw.connections.at(-1)!
  assert.equal(resumed.query.get('epoch'), 'ep-1')
  gw.push()
  await when(() => k.handled.at(-1) === 1 && gw.acked === 1, 'seq 1 of the new epoch, acked')
  await k.c.close()
})

test('a refused upgrade (401) is retried with backoff until a token works', async (t) => {
  const k = client(t, ['bad', 'bad', 'tok-d'])
  const refused = gw.refused
  gw.valid.add('tok-d')
  await k.c.connect()
  // (undici may repeat a refused upgrade on its own, so the server can count more refusals)
  assert.ok(gw.refused >= refused + 2)
  assert.equal(gw.connections.at(-1)!.token, 'tok-d')
  const retries = k.states.filter((s) => s.state === 'reconnecting')
  assert.equal(retries.length, 2)
  for (const r of retries) assert.ok(r.state === 'reconnecting' && r.code === 1006 && r.delayMs <= 50)
  await k.c.close()
})
