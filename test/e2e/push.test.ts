// The push hand-off over real processes: a dispatcher with PUSH_TOPIC set, two gateways, borrowers on
// real WebSockets, and the push topic read back with a real consumer. Offline → one request at once;
// online and acking → none; online without an ack → one after the window; a dispatcher SIGKILL and a
// gateway SIGKILL in the middle of a window → still exactly one.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import type { PushRequest } from '@tidings/contracts'
import { pushClaimedKey, pushDoneKey, pushDueKey, pushShard } from '@tidings/delivery'
import { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { infraFromEnv, uniqueName, waitFor } from '../infra/index.ts'
import { collectTopic, groupLag, loanDecision, produce, type TopicCollector } from './kafka.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { connectUser, newUserId } from './users.ts'

const PUSH_AFTER_MS = 1500
const pushTopic = uniqueName('e2e.notifications.push')

let stack: Stack
let producer: Producer
let redis: Redis
let reader: TopicCollector<PushRequest>
const pushes = (): PushRequest[] => reader.records

before(async () => {
  const { kafkaBrokers, redisUrl } = infraFromEnv()
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-push',
    redisUrl,
    kafkaBrokers,
    gateways: 2,
    dispatcherEnv: {
      PUSH_TOPIC: pushTopic,
      PUSH_AFTER_MS: String(PUSH_AFTER_MS),
      PUSH_POLL_MS: '50',
      PUSH_KINDS: 'loan.decision,note',
      PUSH_BROADCAST_TOPICS: 'alerts',
    },
  }))
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  // the dispatcher created the push topic when it started
  reader = await collectTopic(kafkaBrokers, pushTopic, (r) => {
    const req = JSON.parse(String(r.value)) as PushRequest
    assert.equal(r.key, req.userId ?? req.topic, 'keyed by user id (topic for a broadcast)')
    return req
  })
})

afterEach((t) => stack?.check(t))

after(async () => {
  await reader?.stop()
  await producer?.disconnect()
  redis?.disconnect()
  await stack?.stop()
})

const pushesFor = (userId: string) => pushes().filter((p) => p.userId === userId)
const waitForPush = (userId: string) =>
  waitFor(() => pushesFor(userId)[0], { timeoutMs: 30_000, message: `a push request for ${userId}` })

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.dispatcher!.baseUrl}/metrics`)).text()
  // every series also carries service="dispatcher"
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return Number(line?.split(' ').at(-1) ?? Number.NaN)
}

/** Nothing left that could produce another request for this notification: not due, not claimed, done. */
async function assertSettled(userId: string, notificationId: string): Promise<void> {
  const shard = pushShard(userId)
  const queued = [
    ...(await redis.zrange(pushDueKey(pushTopic, shard), 0, -1)),
    ...(await redis.zrange(pushClaimedKey(pushTopic, shard), 0, -1)),
  ].filter((m) => m.startsWith(`${notificationId}\t`))
  assert.deepEqual(queued, [])
  assert.equal(await redis.exists(pushDoneKey(pushTopic, shard, notificationId)), 1)
}

test('an offline borrower gets one push request at once, with what the lock screen needs', async () => {
  const user = newUserId('push-offline')
  const event = loanDecision(user, { loanId: 'L-77' })
  await produce(producer, stack.topics.loanDecisions, user, event)
  const push = await waitForPush(user)
  assert.equal(push.reason, 'offline')
  assert.equal(push.seq, 1)
  assert.equal(push.kind, 'loan.decision')
  assert.equal(push.title, 'Your loan application has been approved!')
  assert.match(push.body, /L-77/)
  assert.equal(push.collapseKey, 'loan:L-77')
  assert.equal(push.ttlSeconds, 86_400)
  assert.deepEqual(push.data, {
    loanId: 'L-77',
    decision: 'APPROVED',
    amount: { value: 50_000, currency: 'BDT' },
  })
  assert.equal(typeof push.notificationId, 'string')
  await assertSettled(user, push.notificationId)
  assert.equal(pushesFor(user).length, 1)
})

test('a borrower online who acks in time gets no push request', async () => {
  const user = newUserId('push-acks')
  const socket = await connectUser(stack.gateways[0]!.baseUrl, user)
  const ackedBefore = await metric('tidings_dispatcher_push_skipped_total', 'reason="acked"')
  await produce(producer, stack.topics.loanDecisions, user, loanDecision(user))
  const n = await socket.next('notification')
  socket.send({ type: 'ack', seq: n.seq })
  // the window closes; the scheduled push is checked, found acked and dropped
  await waitFor(
    async () => (await metric('tidings_dispatcher_push_skipped_total', 'reason="acked"')) === ackedBefore + 1,
    { timeoutMs: 30_000, message: 'the push found acked' },
  )
  await assertSettled(user, n.id)
  assert.deepEqual(pushesFor(user), [])
  await socket.close()
})

test('a borrower online who does not ack within PUSH_AFTER_MS gets one push request', async () => {
  const user = newUserId('push-silent')
  const socket = await connectUser(stack.gateways[1]!.baseUrl, user)
  await produce(producer, stack.topics.loanDecisions, user, loanDecision(user))
  const n = await socket.next('notification')
  const push = await waitForPush(user)
  assert.equal(push.reason, 'unacked')
  assert.equal(push.notificationId, n.id)
  assert.equal(push.ttlSeconds, 86_400 - Math.ceil(PUSH_AFTER_MS / 1000))
  await assertSettled(user, n.id)
  assert.equal(pushesFor(user).length, 1)
  await socket.close()
})

test('a dispatcher SIGKILL and a gateway SIGKILL in the middle of the window: still exactly one push request', async () => {
  const user = newUserId('push-crash')
  const gateway = stack.gateways[0]!
  const socket = await connectUser(gateway.baseUrl, user)
  await produce(producer, stack.topics.loanDecisions, user, loanDecision(user))
  const n = await socket.next('notification')
  // the event's offset is committed: its push is scheduled in Redis, not in the dispatcher's memory
  const inputs = [stack.topics.loanDecisions, stack.topics.notificationsRequested]
  await waitFor(async () => (await groupLag(infraFromEnv().kafkaBrokers, stack.groupId, inputs)) === 0, {
    timeoutMs: 30_000,
  })
  await stack.dispatcher!.kill()
  await gateway.kill() // the app's socket dies with it: no ack can come
  await Promise.all([stack.dispatcher!.start(), gateway.start()])
  const push = await waitForPush(user)
  assert.equal(push.notificationId, n.id)
  assert.equal(push.reason, 'unacked')
  await assertSettled(user, n.id)
  assert.equal(pushesFor(user).length, 1)
})

const request = (fields: Record<string, unknown>) => ({
  eventId: uniqueName('evt'),
  occurredAt: new Date().toISOString(),
  title: 'Hello',
  body: '',
  ...fields,
})

test('per-kind policy: a kind that is not in PUSH_KINDS is never pushed', async () => {
  const user = newUserId('push-policy')
  // same key, same partition: the marketing one is handled before the note
  await produce(
    producer,
    stack.topics.notificationsRequested,
    user,
    request({ userId: user, kind: 'marketing' }),
  )
  await produce(producer, stack.topics.notificationsRequested, user, request({ userId: user, kind: 'note' }))
  const push = await waitForPush(user)
  assert.equal(push.kind, 'note')
  assert.equal(push.seq, 2)
  assert.equal(pushesFor(user).length, 1)
})

test('broadcasts are pushed only for the topics in PUSH_BROADCAST_TOPICS, at once', async () => {
  // same key, same partition: `news` is handled before `alerts`
  await produce(producer, stack.topics.notificationsRequested, 'bc', request({ topic: 'news', kind: 'note' }))
  await produce(
    producer,
    stack.topics.notificationsRequested,
    'bc',
    request({ topic: 'alerts', kind: 'note' }),
  )
  const push = await waitFor(() => pushes().find((p) => p.topic === 'alerts'), { timeoutMs: 30_000 })
  assert.equal(push.reason, 'broadcast')
  assert.equal(push.userId, undefined)
  assert.deepEqual(
    pushes().filter((p) => p.topic === 'news'),
    [],
  )
})
