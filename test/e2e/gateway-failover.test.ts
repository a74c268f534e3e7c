// Gateway pods dying and stopping under real traffic: a SIGKILL mid-stream (clients resume on the
// other pod with lastSeq + epoch: nothing lost, nothing twice, in order), end-to-end throughput, and
// a graceful SIGTERM drain (reconnect + 1012, /readyz 503, nothing lost either).
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import type { Producer } from 'kafkajs'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '../infra/index.ts'
import { loanDecision, produceDecisions } from './kafka.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { assertContiguous, connectUser, newUserId, ResumingClient, refusal } from './users.ts'

const DRAIN_MS = 3000
const JITTER_MS = 500

let redisServer: RedisServer
let stack: Stack
let producer: Producer

before(async () => {
  const { kafkaBrokers } = infraFromEnv()
  redisServer = await startRedis()
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-failover',
    redisUrl: redisServer.url,
    kafkaBrokers,
    gateways: 2,
    gatewayEnv: { DRAIN_MS: String(DRAIN_MS), RECONNECT_JITTER_MS: String(JITTER_MS) },
  }))
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  await redisServer?.stop()
})

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

test('a gateway SIGKILLed mid-stream: clients resume on the other one, every notification once, in order', async (t) => {
  const USERS = 5
  const EVENTS = 200
  const [gw1, gw2] = stack.gateways as [(typeof stack.gateways)[0], (typeof stack.gateways)[0]]
  const clients = Array.from(
    { length: USERS },
    () => new ResumingClient(newUserId('stream'), { ackEvery: 50 }),
  )
  let killedAt = 0
  const reconnects: Promise<unknown>[] = []
  for (const c of clients) {
    c.whenClosed(() => {
      // what the app does when its socket drops: reconnect at once, to whichever pod the LB picks
      if (c.sessions.length !== 1) return
      const reconnect = c.connect(gw2.baseUrl)
      reconnect.catch(() => {}) // surfaced by the Promise.all below
      reconnects.push(reconnect)
    })
  }
  await Promise.all(clients.map((c) => c.connect(gw1.baseUrl)))

  // a steady stream: one event per user every few ms, keyed by user, while the kill happens; it
  // holds at 60 % until the kill, so that the kill is mid-stream however slow the machine is
  const produced = new Map<string, string[]>(clients.map((c) => [c.userId, []]))
  let killed: () => void = () => {}
  const afterKill = new Promise<void>((resolve) => {
    killed = resolve
  })
  const stream = (async () => {
    for (let i = 0; i < EVENTS; i++) {
      if (i === (EVENTS * 3) / 5) await afterKill
      const batch = clients.map((c) => loanDecision(c.userId))
      for (const e of batch) produced.get(e.borrowerId)!.push(e.loanId)
      await produceDecisions(producer, stack.topics.loanDecisions, batch)
      await delay(5) // pacing, not synchronisation
    }
  })()

  await waitFor(() => clients.every((c) => c.allSeqs().length >= 40), {
    timeoutMs: 30_000,
    message: 'every client received 40 notifications on gateway 1',
  })
  killedAt = Date.now()
  await gw1.kill()
  killed()
  await stream
  await waitFor(() => clients.every((c) => c.allSeqs().length >= EVENTS), {
    timeoutMs: 60_000,
    message: `every client has ${EVENTS} notifications (${clients.map((c) => c.allSeqs().length).join(', ')})`,
  })
  await Promise.all(reconnects)

  const latencies: number[] = []
  const reconnectMs: number[] = []
  for (const c of clients) {
    assert.equal(c.sessions.length, 2, `${c.userId}: one session per gateway`)
    const [s1, s2] = c.sessions as [(typeof c.sessions)[0], (typeof c.sessions)[0]]
    assert.equal(s1.baseUrl, gw1.baseUrl)
    assert.equal(s2.baseUrl, gw2.baseUrl)
    assert.equal(s1.closed?.code, 1006, 'an abnormal closure: the pod vanished')
    assert.ok(
      s1.seqs.length >= 40 && s1.seqs.length < EVENTS,
      `${c.userId}: killed mid-stream (${s1.seqs.length})`,
    )
    assertContiguous(s1.seqs, 1, `${c.userId} session 1`)
    // the store lost nothing: same epoch, no `missed`, the resumed session starts right after lastSeq
    assert.equal(s2.epoch, s1.epoch)
    assert.equal(s2.missed, undefined, `${c.userId}: nothing was missed`)
    assertContiguous(s2.seqs, s1.seqs.length + 1, `${c.userId} session 2`)
    assert.equal(s1.seqs.length + s2.seqs.length, EVENTS, `${c.userId}: none twice, none lost`)
    const received = [...s1.notifications, ...s2.notifications]
    assert.deepEqual(
      received.map((n) => n.data.loanId),
      produced.get(c.userId),
      `${c.userId}: in production order`,
    )
    assert.equal(new Set(received.map((n) => n.id)).size, EVENTS)
    s1.notifications.forEach((n, i) => {
      latencies.push(s1.receivedAt[i]! - Date.parse(n.createdAt))
    })
    reconnectMs.push(s2.welcomedAt - killedAt)
  }
  await Promise.all(clients.map((c) => c.current!.socket.close()))
  t.diagnostic(
    `produce→socket latency before the kill: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, ` +
      `max ${Math.max(...latencies)} ms (${latencies.length} notifications)`,
  )
  t.diagnostic(
    `SIGKILL → welcome on the other gateway: ${Math.min(...reconnectMs)}–${Math.max(...reconnectMs)} ms (${USERS} clients)`,
  )
})

test('throughput: a burst of 2000 events to 10 users on both gateways', async (t) => {
  const [gw1, gw2] = stack.gateways as [(typeof stack.gateways)[0], (typeof stack.gateways)[0]]
  const restartStarted = Date.now()
  if (!gw1.running) await gw1.start() // SIGKILLed above
  t.diagnostic(`gateway-1 restarted and ready in ${Date.now() - restartStarted} ms`)
  const USERS = 10
  const EACH = 200
  const users = Array.from({ length: USERS }, () => newUserId('burst'))
  const sockets = await Promise.all(users.map((u, i) => connectUser((i % 2 ? gw2 : gw1).baseUrl, u)))
  try {
    const events = Array.from({ length: EACH }, () => users.map((u) => loanDecision(u))).flat()
    const started = Date.now()
    for (let i = 0; i < events.length; i += 250) {
      await produceDecisions(producer, stack.topics.loanDecisions, events.slice(i, i + 250))
    }
    const producedMs = Date.now() - started
    await Promise.all(sockets.map((s) => s.waitForCount('notification', EACH, 60_000)))
    const ms = Date.now() - started
    for (const s of sockets) {
      assertContiguous(
        s.notifications().map((n) => n.seq),
        1,
        s.welcome.userId,
      )
    }
    t.diagnostic(
      `${events.length} events produced in ${producedMs} ms, all on the sockets after ${ms} ms: ` +
        `${Math.round((events.length / ms) * 1000)} notifications/s end to end`,
    )
  } finally {
    await Promise.all(sockets.map((s) => s.close()))
  }
})

test('SIGTERM: /readyz 503 and new sockets refused while draining, clients get reconnect then 1012, nothing lost', async (t) => {
  const [gw1, gw2] = stack.gateways as [(typeof stack.gateways)[0], (typeof stack.gateways)[0]]
  if (!gw1.running) await gw1.start()
  const clients = Array.from({ length: 4 }, () => new ResumingClient(newUserId('drain')))
  await Promise.all(clients.map((c) => c.connect(gw1.baseUrl)))
  const signalled = Date.now()
  const stopping = gw1.stop()
  let sawDraining = false
  await waitFor(
    async () => {
      const res = await fetch(`${gw1.baseUrl}/readyz`)
      await res.arrayBuffer()
      sawDraining = res.status === 503
      return sawDraining
    },
    { intervalMs: 20, timeoutMs: 5000, message: '/readyz 503 while draining' },
  )
  // while draining: no new sockets (the load balancer sends them elsewhere), events keep flowing
  const late = newUserId('late')
  const refused = await refusal(connectUser(gw1.baseUrl, late))
  assert.equal(refused.status, 503)
  const events = clients.map((c) => loanDecision(c.userId))
  await produceDecisions(producer, stack.topics.loanDecisions, events)

  const reconnectsAfter: number[] = []
  await Promise.all(
    clients.map(async (c) => {
      const s1 = c.current!
      const closed = await s1.socket.closed
      assert.equal(closed.code, 1012)
      const frames = s1.socket.frames
      const reconnect = frames.at(-1)
      assert.equal(
        reconnect?.type,
        'reconnect',
        `the last frame before 1012 is reconnect: ${JSON.stringify(frames)}`,
      )
      const afterMs = (reconnect as { afterMs: number }).afterMs
      assert.ok(Number.isInteger(afterMs) && afterMs >= 0 && afterMs <= JITTER_MS, `afterMs ${afterMs}`)
      reconnectsAfter.push(afterMs)
      // the app waits afterMs, then resumes elsewhere
      await delay(afterMs)
      await c.connect(gw2.baseUrl)
    }),
  )
  const exit = await stopping
  const drainMs = Date.now() - signalled
  assert.deepEqual(exit, { code: 0, signal: null }, 'a clean exit after the drain')
  assert.ok(drainMs < DRAIN_MS + 5000, `drained in ${drainMs} ms`)

  // the event produced during the drain: exactly once over both sessions
  await waitFor(() => clients.every((c) => c.allSeqs().length >= 1), {
    message: 'the drain-time event arrived',
  })
  await Promise.all(
    clients.map(async (c) => {
      const second = c.current!
      const pongs = second.socket.frames.filter((f) => f.type === 'pong').length
      second.socket.send({ type: 'ping' })
      await second.socket.waitForCount('pong', pongs + 1)
      assert.deepEqual(c.allSeqs(), [1], `${c.userId}: ${JSON.stringify(c.sessions.map((s) => s.seqs))}`)
      assert.equal(second.missed, undefined)
      await second.socket.close()
    }),
  )
  t.diagnostic(
    `SIGTERM → exit ${drainMs} ms (DRAIN_MS ${DRAIN_MS}); reconnect.afterMs ${reconnectsAfter.join(', ')}`,
  )
})
