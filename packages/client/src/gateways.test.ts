// The SDK (Node's global WebSocket, i.e. undici) against the real system: two gateway processes and a
// dispatcher on a private Redis, notifications written through Kafka by a kafkajs producer.
// (real-socket.test.ts pins down the client's side of the wire against a small protocol-faithful
// server; this file checks that the SDK and the real gateways agree.)
//
// - a gateway SIGKILLed mid-stream: the client moves on to the other one (`urls`), resumes with
//   lastSeq + epoch, and the app sees every notification exactly once, in seq order;
// - a token about to expire: `reauth` → getToken({ reason: 'reauth' }) → `auth` on the live socket,
//   and the session outlives the old token's expiry;
// - getToken failing on `reauth`: close 4001 at expiry → getToken({ reason: 'rejected' }) → the client
//   reconnects at once and resumes, nothing lost.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { connectProducer, loanDecision, produceDecisions } from '@tidings/test/e2e/kafka'
import { latestSeq, loseLatestWrites } from '@tidings/test/e2e/redis-failover'
import { type Stack, startStack } from '@tidings/test/e2e/stack'
import { newUserId } from '@tidings/test/e2e/users'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { createTidingsClient, type StateEvent, type TidingsClient, type TokenReason } from './client.ts'
import type { TidingsError } from './errors.ts'
import type { WebSocketConstructor } from './websocket.ts'
import type { MissedFrame, NotificationFrame, ServerFrame } from './wire.ts'

type Producer = Awaited<ReturnType<typeof connectProducer>>
type Gateway = Stack['gateways'][number]

/** Close a session this long after its token expired without a fresh `auth` (default 30 s). */
const EXPIRY_GRACE_MS = 1000

let redis: RedisServer | undefined
let stack: Stack
let producer: Producer
let gw1: Gateway
let gw2: Gateway

before(async () => {
  const { kafkaBrokers } = infraFromEnv()
  redis = await startRedis()
  ;[stack, producer] = await Promise.all([
    startStack({
      name: 'sdk-gateways',
      redisUrl: redis.url,
      kafkaBrokers,
      gateways: 2,
      // REAUTH_WARNING_MS stays at its 60 s default: a token living less than that gets `reauth` at once
      gatewayEnv: { EXPIRY_GRACE_MS: String(EXPIRY_GRACE_MS) },
    }),
    connectProducer(kafkaBrokers),
  ])
  ;[gw1, gw2] = stack.gateways as [Gateway, Gateway]
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  await redis?.stop()
})

interface SocketLog {
  url: string
  frames: ServerFrame[]
  closed: { code: number; reason: string } | undefined
}

/** What the app sees, plus what went over the wire (a WebSocket subclass that records each socket). */
function app(userId: string, urls: string[], getToken: (reason: TokenReason) => string | Promise<string>) {
  const handled: NotificationFrame[] = []
  const missed: MissedFrame[] = []
  const states: StateEvent[] = []
  const errors: TidingsError[] = []
  const reasons: TokenReason[] = []
  const sockets: SocketLog[] = []
  class RecordingWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      const log: SocketLog = { url: String(url), frames: [], closed: undefined }
      sockets.push(log)
      this.addEventListener('message', (e) => log.frames.push(JSON.parse(String(e.data)) as ServerFrame))
      this.addEventListener('close', (e) => {
        log.closed = { code: e.code, reason: e.reason }
      })
    }
  }
  const client: TidingsClient = createTidingsClient({
    urls,
    getToken: ({ reason }) => {
      reasons.push(reason)
      return getToken(reason)
    },
    WebSocket: RecordingWebSocket as unknown as WebSocketConstructor,
    sse: false,
  })
  client.on('notification', (n) => {
    handled.push(n)
  })
  client.on('missed', (m) => {
    missed.push({ type: 'missed', ...m })
  })
  client.on('state', (s) => {
    states.push(s)
  })
  client.on('error', (e) => {
    errors.push(e)
  })
  const opens = () => states.filter((s) => s.state === 'open')
  return { userId, client, handled, missed, states, errors, reasons, sockets, opens }
}

const notificationSeqs = (frames: ServerFrame[]) =>
  frames.flatMap((f) => (f.type === 'notification' ? [f.seq] : []))

function assertSeqs(seqs: number[], from: number, to: number, what: string): void {
  const expected = Array.from({ length: to - from + 1 }, (_, i) => from + i)
  assert.deepEqual(seqs, expected, `${what}: expected seqs ${from}..${to}`)
}

test('gateway SIGKILLed mid-stream: the client moves to the other one, resumes with lastSeq + epoch, every notification exactly once, in order', async (t) => {
  const EVENTS = 200
  const userId = newUserId('sdk-failover')
  const a = app(userId, [gw1.baseUrl, gw2.baseUrl], () => signUserToken(userId))
  try {
    await a.client.connect()
    assert.equal(a.client.session?.url, gw1.baseUrl, 'the first connection goes to the first URL')
    const epoch = a.client.session!.epoch

    // a steady stream; it holds at 60 % until the kill, so that the kill is mid-stream on any machine
    const produced: string[] = []
    let killed!: () => void
    const afterKill = new Promise<void>((resolve) => {
      killed = resolve
    })
    const stream = (async () => {
      for (let i = 0; i < EVENTS; i++) {
        if (i === (EVENTS * 3) / 5) await afterKill
        const e = loanDecision(userId)
        produced.push(e.loanId)
        await produceDecisions(producer, stack.topics.loanDecisions, [e])
        await delay(3) // pacing, not synchronisation
      }
    })()
    stream.catch(() => {}) // awaited below

    await waitFor(() => a.handled.length >= 40, {
      timeoutMs: 30_000,
      message: '40 notifications on gateway 1',
    })
    const killedAt = Date.now()
    await gw1.kill()
    killed()
    await stream
    await waitFor(() => a.handled.length >= EVENTS, {
      timeoutMs: 60_000,
      message: `all ${EVENTS} notifications (have ${a.handled.length})`,
    })
    await a.client.flush()
    const reconnectMs = Date.now() - killedAt

    // what the app saw: 1..200, each once, in order, in production order
    assertSeqs(
      a.handled.map((n) => n.seq),
      1,
      EVENTS,
      'the notification handler',
    )
    assert.deepEqual(
      a.handled.map((n) => n.data.loanId),
      produced,
      'in production order',
    )
    assert.equal(new Set(a.handled.map((n) => n.id)).size, EVENTS, 'distinct ids')
    assert.deepEqual(a.missed, [], 'nothing was missed')
    assert.equal(
      a.errors.filter((e) => e.kind !== 'transport').length,
      0,
      a.errors.map((e) => e.message).join('; '),
    )

    // how it got there: two sessions, the second on gateway 2, resumed from where the first stopped
    const opens = a.opens()
    assert.equal(opens.length, 2, `two sessions: ${JSON.stringify(a.states.map((s) => s.state))}`)
    assert.equal(opens[1]?.state === 'open' && opens[1].session.url, gw2.baseUrl, 'the second on gateway 2')
    assert.equal(opens[1]?.state === 'open' && opens[1].session.epoch, epoch, 'same epoch: nothing was lost')
    const [first, ...rest] = a.sockets
    const second = rest.find((s) => s.frames.some((f) => f.type === 'welcome'))
    assert.ok(first && second, `sockets: ${a.sockets.map((s) => s.url).join(', ')}`)
    assert.equal(first.closed?.code, 1006, 'the pod vanished')
    const resume = new URL(second.url)
    assert.equal(resume.origin, new URL(gw2.baseUrl.replace(/^http/, 'ws')).origin)
    const lastSeq = Number(resume.searchParams.get('lastSeq'))
    assert.equal(resume.searchParams.get('epoch'), epoch)
    const onFirst = notificationSeqs(first.frames)
    assertSeqs(onFirst, 1, onFirst.length, 'socket 1')
    assert.ok(lastSeq >= 40 && lastSeq < EVENTS, `killed mid-stream (lastSeq ${lastSeq})`)
    // the position is what the app had handled when the SDK reconnected: at most what socket 1 delivered
    assert.ok(lastSeq <= onFirst.length, `lastSeq ${lastSeq}, socket 1 delivered ${onFirst.length}`)
    // the server replayed from lastSeq + 1: the SDK had nothing to drop
    assertSeqs(notificationSeqs(second.frames), lastSeq + 1, EVENTS, 'socket 2')
    t.diagnostic(
      `killed gateway 1 after seq ${lastSeq}; all ${EVENTS} handled ${reconnectMs} ms after the kill; ` +
        `${a.sockets.length} sockets (${a.sockets.length - 2} failed attempts)`,
    )
  } finally {
    await a.client.close()
  }
})

test('token about to expire: reauth → getToken("reauth") → auth on the live socket; the session outlives the old token', async (t) => {
  if (!gw1.running) await gw1.start() // SIGKILLed above
  const userId = newUserId('sdk-reauth')
  const SHORT_S = 8 // < REAUTH_WARNING_MS (60 s): `reauth` comes right after `welcome`
  let shortExp = 0
  const a = app(userId, [gw2.baseUrl, gw1.baseUrl], async (reason) => {
    if (reason === 'connect' && shortExp === 0) {
      shortExp = Math.floor(Date.now() / 1000) + SHORT_S
      return signUserToken(userId, { expiresInS: SHORT_S })
    }
    return signUserToken(userId)
  })
  try {
    await a.client.connect()
    const socket = a.sockets[0]!
    await waitFor(() => socket.frames.some((f) => f.type === 'authenticated'), {
      message: '`authenticated` after the SDK answered `reauth`',
    })
    const reauth = socket.frames.find((f) => f.type === 'reauth')
    assert.ok(reauth, 'the gateway asked for a fresh token')
    assert.deepEqual(a.reasons, ['connect', 'reauth'])
    const authenticated = socket.frames.find((f) => f.type === 'authenticated')
    assert.ok(
      authenticated?.type === 'authenticated' &&
        Date.parse(authenticated.expiresAt) > shortExp * 1000 + 60_000,
      'the new expiry is the fresh token’s',
    )

    // notifications before and after the old token's expiry (+ the grace the gateway allows)
    await produceDecisions(producer, stack.topics.loanDecisions, [loanDecision(userId), loanDecision(userId)])
    await waitFor(() => a.handled.length >= 2, { message: 'two notifications before the old expiry' })
    const oldDeadline = shortExp * 1000 + EXPIRY_GRACE_MS
    await delay(Math.max(0, oldDeadline - Date.now()) + 1500)
    await produceDecisions(producer, stack.topics.loanDecisions, [loanDecision(userId), loanDecision(userId)])
    await waitFor(() => a.handled.length >= 4, { message: 'two notifications after the old expiry' })

    assertSeqs(
      a.handled.map((n) => n.seq),
      1,
      4,
      'handled',
    )
    assert.equal(a.sockets.length, 1, 'one socket all along')
    assert.equal(socket.closed, undefined, 'never closed (no 4001)')
    assert.equal(a.opens().length, 1)
    assert.equal(a.client.state, 'open')
    assert.deepEqual(a.reasons, ['connect', 'reauth'], 'no token was refused')
    assert.deepEqual(a.errors, [])
    t.diagnostic(`session alive ${Date.now() - shortExp * 1000} ms past the first token's exp`)
  } finally {
    await a.client.close()
  }
})

test('getToken fails on reauth: 4001 at expiry → getToken("rejected") → reconnect at once, resume, nothing lost', async (t) => {
  if (!gw1.running) await gw1.start()
  const userId = newUserId('sdk-4001')
  const SHORT_S = 3
  let shortExp = 0
  const a = app(userId, [gw1.baseUrl, gw2.baseUrl], async (reason) => {
    if (reason === 'reauth') throw new Error('identity provider unavailable')
    if (reason === 'connect') {
      shortExp = Math.floor(Date.now() / 1000) + SHORT_S
      return signUserToken(userId, { expiresInS: SHORT_S })
    }
    return signUserToken(userId) // 'rejected': a fresh one
  })
  try {
    await a.client.connect()
    await produceDecisions(producer, stack.topics.loanDecisions, [loanDecision(userId), loanDecision(userId)])
    await waitFor(() => a.handled.length >= 2, { message: 'two notifications on the first session' })
    await waitFor(() => a.opens().length >= 2, { timeoutMs: 15_000, message: 'a second session after 4001' })
    const first = a.sockets[0]!
    assert.equal(first.closed?.code, 4001, `the first socket closed 4001: ${JSON.stringify(first.closed)}`)
    const closedAt = Date.now()
    assert.ok(closedAt >= shortExp * 1000, 'not before the token expired')
    const rec = a.states.find((s) => s.state === 'reconnecting')
    assert.ok(rec?.state === 'reconnecting' && rec.code === 4001 && rec.delayMs === 0, JSON.stringify(rec))
    assert.deepEqual(a.reasons.slice(0, 3), ['connect', 'reauth', 'rejected'])
    assert.ok(
      a.errors.some((e) => e.kind === 'token'),
      'the failed getToken was reported',
    )
    const second = a.sockets.at(-1)!
    assert.equal(new URL(second.url).searchParams.get('lastSeq'), '2', 'resumed after seq 2')

    await produceDecisions(producer, stack.topics.loanDecisions, [loanDecision(userId)])
    await waitFor(() => a.handled.length >= 3, { message: 'a notification on the second session' })
    await a.client.flush()
    assertSeqs(
      a.handled.map((n) => n.seq),
      1,
      3,
      'handled',
    )
    assert.deepEqual(a.missed, [])
    t.diagnostic(`4001 → open again on ${a.client.session?.url} (${a.sockets.length} sockets)`)
  } finally {
    await a.client.close()
  }
})

test('Redis lost the latest writes while the app was away, and new notifications took their seqs: the app gets missed from 0 and every one of them', async () => {
  const userId = newUserId('sdk-reused')
  const a = app(userId, [gw2.baseUrl], () => signUserToken(userId))
  try {
    await a.client.connect()
    const before = [loanDecision(userId), loanDecision(userId), loanDecision(userId)]
    await produceDecisions(producer, stack.topics.loanDecisions, before)
    await waitFor(() => a.handled.length === 3, { message: 'seq 1..3 handled' })
    await a.client.close()

    // a failover to a replica that had only seq 1; two new events take seq 2 and 3 again
    await loseLatestWrites(redis!.url, userId, 2)
    const after = [loanDecision(userId), loanDecision(userId)]
    await produceDecisions(producer, stack.topics.loanDecisions, after)
    await waitFor(async () => (await latestSeq(redis!.url, userId)) === 3, { message: 'both stored' })

    await a.client.connect()
    await waitFor(() => a.handled.length === 5, {
      message: `the two new notifications (handled: ${a.handled.map((n) => n.data.loanId).join(', ')})`,
    })
    await a.client.flush()
    assert.deepEqual(
      a.handled.map((n) => n.data.loanId),
      [...before, ...after].map((e) => e.loanId),
      'each once (seq 1, replayed again, is known by its id)',
    )
    // from 0: what the app had is not trusted (seq 1 went with the app's ack of 3 before the failover)
    assert.deepEqual(
      a.missed.map((m) => m.afterSeq),
      [0],
    )
    const resumed = new URL(a.sockets.at(-1)!.url).searchParams
    assert.deepEqual([resumed.get('lastSeq'), resumed.get('lastId')], ['3', a.handled[2]!.id])
  } finally {
    await a.client.close()
  }
})

// The stored seq is re-acked only at the ack interval after a new connection, never by a flush before
// it (close(), flush(), a restart): browsers queue a task per WebSocket message, so an app that closes
// as soon as connect() resolves runs before the missed from 0 that follows welcome is handled, and an
// ack of the stored seq then would delete the new notifications that took the reused seqs, for every
// device.
class TaskPerMessageWebSocket extends WebSocket {
  #handler: ((e: MessageEvent) => void) | null = null
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols)
    super.onmessage = (e: MessageEvent) => setTimeout(() => this.#handler?.(e), 0)
  }
  override get onmessage(): ((e: MessageEvent) => void) | null {
    return this.#handler
  }
  override set onmessage(h: ((e: MessageEvent) => void) | null) {
    this.#handler = h
  }
}

for (const taskPerMessage of [false, true]) {
  test(`Redis reused the seqs up to the stored one: close() right after connect() does not ack them away (${taskPerMessage ? 'a task per message, as in browsers' : 'Node WebSocket'})`, async () => {
    const userId = newUserId('sdk-reused-close')
    const missed: number[] = []
    const client = createTidingsClient({
      urls: [gw2.baseUrl],
      getToken: () => signUserToken(userId),
      WebSocket: (taskPerMessage ? TaskPerMessageWebSocket : WebSocket) as unknown as WebSocketConstructor,
      sse: false,
    })
    const handled: NotificationFrame[] = []
    client.on('notification', (n) => {
      handled.push(n)
    })
    client.on('missed', (m) => {
      missed.push(m.afterSeq)
    })
    const other = app(userId, [gw2.baseUrl], () => signUserToken(userId))
    try {
      await client.connect()
      await produceDecisions(producer, stack.topics.loanDecisions, [
        loanDecision(userId),
        loanDecision(userId),
        loanDecision(userId),
      ])
      await waitFor(() => handled.length === 3, { message: 'seq 1..3 handled' })
      await client.close()
      await loseLatestWrites(redis!.url, userId, 2)
      const after = [loanDecision(userId), loanDecision(userId)]
      await produceDecisions(producer, stack.topics.loanDecisions, after)
      await waitFor(async () => (await latestSeq(redis!.url, userId)) === 3, { message: 'both stored' })

      await client.connect()
      await client.close()

      // another device of the user, with no position: the inbox from the oldest unacked
      await other.client.connect()
      await other.client.ping() // the pong follows the connect replay
      await other.client.flush()
      assert.deepEqual(
        other.handled.map((n) => n.data.loanId).filter((id) => after.some((e) => e.loanId === id)),
        after.map((e) => e.loanId),
        `the two new notifications are still in the inbox (missed seen by the first app: ${JSON.stringify(missed)})`,
      )
    } finally {
      await client.close()
      await other.client.close()
    }
  })
}
