// Redis trouble under live sessions, over real processes: Redis restarting empty (no persistence)
// and the gateways' pub/sub connections dropping. Connected users must not be left silently behind.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { userChannel, userStateKey } from '@tidings/delivery'
import { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '../infra/index.ts'
import { loanDecision, produce, produceDecisions } from './kafka.ts'
import { httpStatus } from './processes.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { connectUser, newUserId } from './users.ts'

let redisServer: RedisServer
let redis: Redis
let stack: Stack
let producer: Producer

before(async () => {
  const { kafkaBrokers } = infraFromEnv()
  redisServer = await startRedis()
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {}) // the server is restarted on purpose
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-redis',
    redisUrl: redisServer.url,
    kafkaBrokers,
    gateways: 1,
  }))
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  redis?.disconnect()
  await redisServer?.stop()
})

const storedSeq = async (userId: string) => Number((await redis.hget(userStateKey(userId), 'seq')) ?? 0)
/** How many connections (gateway pods) are subscribed to the user's channel. */
const subscribers = async (userId: string) => {
  const reply = (await redis.call('PUBSUB', 'SHARDNUMSUB', userChannel(userId))) as [string, number]
  return Number(reply[1])
}

test('Redis restarts empty under a live session: probes dip, then the session gets missed + the new epoch live', async (t) => {
  const gw = stack.gateways[0]!
  const dispatcher = stack.dispatcher!
  const user = newUserId('outage')
  const s = await connectUser(gw.baseUrl, user)
  try {
    await produceDecisions(producer, stack.topics.loanDecisions, [loanDecision(user), loanDecision(user)])
    await s.waitForCount('notification', 2)
    const epoch = s.welcome.epoch

    const stoppedAt = Date.now()
    await redisServer.restart() // same port, no persistence: every key is gone
    // both services come back by themselves
    await waitFor(async () => (await httpStatus(`${gw.baseUrl}/readyz`)) === 200, { timeoutMs: 30_000 })
    await waitFor(async () => (await httpStatus(`${dispatcher.baseUrl}/readyz`)) === 200, {
      timeoutMs: 30_000,
    })
    // the gateway re-subscribed its user's channel on the new server
    await waitFor(async () => (await subscribers(user)) === 1, {
      timeoutMs: 30_000,
      message: "the gateway subscribed the user's channel again",
    })
    const recoveredMs = Date.now() - stoppedAt

    const next = loanDecision(user)
    await produce(producer, stack.topics.loanDecisions, user, next)
    const missed = await s.next('missed', 15_000)
    const n = await s.waitForCount('notification', 3, 15_000)
    assert.notEqual(missed.epoch, epoch, 'a new epoch')
    assert.deepEqual(missed, { type: 'missed', afterSeq: 0, nextSeq: 1, epoch: missed.epoch })
    const last = n.at(-1) as Extract<(typeof n)[number], { type: 'notification' }>
    assert.equal(last.seq, 1)
    assert.equal(last.data.loanId, next.loanId)
    assert.equal(s.ws.readyState, s.ws.OPEN, 'the session stayed open')
    t.diagnostic(`Redis restart → gateway ready and re-subscribed after ${recoveredMs} ms`)
  } finally {
    await s.close()
  }
})

test("a dropped pub/sub connection loses no live notification (the gateway re-reads its users' inboxes)", async () => {
  const gw = stack.gateways[0]!
  const user = newUserId('blip')
  const s = await connectUser(gw.baseUrl, user)
  try {
    await produce(producer, stack.topics.loanDecisions, user, loanDecision(user))
    await s.waitForCount('notification', 1)
    // the network drops the gateway's pub/sub connection (a failover, a proxy, a NAT timeout)…
    await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    // …and the next notification is written and published before it is back
    const during = loanDecision(user)
    await produce(producer, stack.topics.loanDecisions, user, during)
    await waitFor(async () => (await storedSeq(user)) === 2, { message: 'the second event stored' })
    await waitFor(async () => (await subscribers(user)) === 1, {
      timeoutMs: 30_000,
      message: 'the gateway re-subscribed',
    })
    // the app is still connected: it must get the notification without reconnecting
    // (a fixed gateway delivers it within milliseconds of re-subscribing; 5 s is generous)
    const frames = await s.waitForCount('notification', 2, 5000)
    assert.equal((frames[1] as { seq: number }).seq, 2)
  } finally {
    await s.close()
  }
})
