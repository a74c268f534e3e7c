// The dispatcher SIGKILLed while it consumes, then replaced by a fresh process in the same consumer
// group: Kafka redelivers what was not committed, the dedupe must absorb it. Every event ends up in
// its user's inbox exactly once, in order, seqs contiguous.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import type { LoanDecisionEvent } from '@tidings/contracts'
import { userStateKey } from '@tidings/delivery'
import { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '../infra/index.ts'
import { groupLag, loanDecision, produceDecisions } from './kafka.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { assertContiguous, connectUser, newUserId, settle } from './users.ts'

const USERS = 20
const PARTITIONS = 6

let redisServer: RedisServer
let redis: Redis
let stack: Stack
let producer: Producer

before(async () => {
  const { kafkaBrokers } = infraFromEnv()
  redisServer = await startRedis()
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 })
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-dispatcher-crash',
    redisUrl: redisServer.url,
    kafkaBrokers,
    gateways: 1,
    partitions: PARTITIONS,
  }))
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  redis?.disconnect()
  await redisServer?.stop()
})

/** Notifications stored so far over all users (the sum of their last seqs). */
async function storedTotal(users: string[]): Promise<number> {
  const pipeline = redis.pipeline()
  for (const u of users) pipeline.hget(userStateKey(u), 'seq')
  const results = (await pipeline.exec()) ?? []
  return results.reduce((sum, [, v]) => sum + Number(v ?? 0), 0)
}

function metric(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

test('dispatcher SIGKILLed mid-batch (twice) and replaced: every event delivered exactly once, in order', async (t) => {
  const dispatcher = stack.dispatcher!
  const users = Array.from({ length: USERS }, () => newUserId('crash'))
  /** Per user: the loan ids of its distinct events, in production order. */
  const expected = new Map<string, string[]>(users.map((u) => [u, []]))
  const record = (events: LoanDecisionEvent[]) => {
    for (const e of events) expected.get(e.borrowerId)!.push(e.loanId)
  }
  const distinct = () => [...expected.values()].reduce((n, ids) => n + ids.length, 0)

  // Phase 1: a backlog while no dispatcher runs, so the next one takes it in big batches.
  await dispatcher.stop()
  const backlog = Array.from({ length: 150 }, () => users.map((u) => loanDecision(u))).flat()
  // producers retry too: 5 events per user sent a second time, same eventId
  const resent = users.flatMap((u) => backlog.filter((e) => e.borrowerId === u).slice(10, 15))
  record(backlog)
  for (let i = 0; i < backlog.length; i += 500) {
    await produceDecisions(producer, stack.topics.loanDecisions, backlog.slice(i, i + 500))
  }
  await produceDecisions(producer, stack.topics.loanDecisions, resent)
  const phase1 = distinct()

  // start a dispatcher and kill -9 it as soon as it has stored something (without waiting for its
  // readiness: it may consume before /readyz answers). It fires a batch's Redis writes together, so
  // what is stored jumps by up to a batch at a time.
  const starting = dispatcher.start().catch((error: Error) => error)
  await waitFor(async () => (await storedTotal(users)) > 0, {
    intervalMs: 1,
    timeoutMs: 30_000,
    message: 'the dispatcher stored its first notification',
  })
  await dispatcher.kill()
  const atKill1 = await storedTotal(users)
  await starting
  assert.ok(atKill1 < phase1, `killed before the end of the backlog (${atKill1} of ${phase1} stored)`)

  const brokers = infraFromEnv().kafkaBrokers
  const lag = () => groupLag(brokers, stack.groupId, [stack.topics.loanDecisions])
  // what the replacement has to read again: everything after the last commit, stored or not
  const uncommitted1 = await lag()
  const records1 = backlog.length + resent.length
  assert.ok(
    uncommitted1 > records1 - atKill1,
    `the kill left stored but uncommitted records, which Kafka will deliver again (${uncommitted1} uncommitted, ${atKill1} of ${records1} stored)`,
  )

  // Phase 2: a replacement joins the same group (it waits out the dead member's session: 6 s) and
  // drains the backlog, re-reading what the dead one stored but had not committed
  const rejoinStarted = Date.now()
  await dispatcher.start()
  const rejoinMs = Date.now() - rejoinStarted
  await waitFor(async () => (await lag()) === 0, { timeoutMs: 60_000, message: 'the backlog committed' })
  assert.equal(await storedTotal(users), phase1, 'after the first crash: one notification per distinct event')
  const metrics1 = await (await fetch(`${dispatcher.baseUrl}/metrics`)).text()
  const duplicates1 = metric(metrics1, 'tidings_dispatcher_duplicates_total')
  const consumed1 = metric(metrics1, 'tidings_dispatcher_events_consumed_total')
  assert.ok(
    consumed1 >= uncommitted1,
    `the replacement read what was not committed (${consumed1} ≥ ${uncommitted1})`,
  )

  // Phase 3: a live stream while the replacement consumes; kill it mid-stream, restart at once
  const live = Array.from({ length: 50 }, () => users.map((u) => loanDecision(u)))
  for (const round of live) record(round)
  let sent = 0
  const stream = (async () => {
    for (const round of live) {
      await produceDecisions(producer, stack.topics.loanDecisions, round)
      sent += 1
      await delay(20) // pacing, not synchronisation
    }
  })()
  await waitFor(() => sent >= live.length / 2, { timeoutMs: 30_000, message: 'half of the live stream sent' })
  await dispatcher.kill()
  const atKill2 = await storedTotal(users)
  await dispatcher.start()
  await stream
  const total = distinct()
  assert.ok(atKill2 < total, `second kill mid-stream (${atKill2} of ${total} stored)`)

  // Everything committed (nothing left for a consumer), then the inboxes tell the truth
  const drainStarted = Date.now()
  await waitFor(async () => (await lag()) === 0, {
    timeoutMs: 60_000,
    message: 'the group committed every record',
  })
  const drainMs = Date.now() - drainStarted
  assert.equal(await storedTotal(users), total, 'one notification per distinct event, no more')

  const metrics = await (await fetch(`${dispatcher.baseUrl}/metrics`)).text()
  const duplicates = metric(metrics, 'tidings_dispatcher_duplicates_total')
  const consumed = metric(metrics, 'tidings_dispatcher_events_consumed_total')

  // what the apps get: connect each user once, the replay is its whole inbox
  const gw = stack.gateways[0]!.baseUrl
  for (const u of users) {
    const s = await connectUser(gw, u)
    try {
      const frames = await settle(s)
      const ids = expected.get(u)!
      assert.equal(s.frames.filter((f) => f.type === 'missed').length, 0)
      assertContiguous(
        frames.map((f) => f.seq),
        1,
        u,
      )
      assert.equal(frames.length, ids.length, `${u}: ${frames.length} notifications for ${ids.length} events`)
      assert.deepEqual(
        frames.map((f) => f.data.loanId),
        ids,
        `${u}: in production order`,
      )
      assert.equal(new Set(frames.map((f) => f.id)).size, ids.length, `${u}: notification ids distinct`)
    } finally {
      await s.close()
    }
  }
  t.diagnostic(
    `backlog of ${backlog.length} events (+${resent.length} re-sent with the same eventId): SIGKILL at ${atKill1} ` +
      `stored, ${uncommitted1} records uncommitted; replacement ready after ${rejoinMs} ms (the dead member's ` +
      `session timeout), re-read them and absorbed ${duplicates1} duplicates (≤ ${resent.length} of them re-sends)`,
  )
  t.diagnostic(
    `live stream: SIGKILL at ${atKill2} of ${total} stored; the next dispatcher consumed ${consumed} records, ` +
      `${duplicates} duplicates; lag 0 ${drainMs} ms after the stream ended`,
  )
})
