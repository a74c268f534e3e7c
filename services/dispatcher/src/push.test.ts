// The push hand-off's poller against a real Kafka and Redis: no shard stops for good, whatever one of
// its entries, one user's burst or one other shard does.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Notification, PushRequest } from '@tidings/contracts'
import {
  createInboxWriter,
  createPresenceStore,
  createPushQueue,
  DEFAULT_RETENTION,
  type InboxWriter,
  PUSH_SHARDS,
  pushClaimedKey,
  pushDueKey,
  pushShard,
  userStateKey,
} from '@tidings/delivery'
import { createLogger, createMetricsRegistry, type Registry } from '@tidings/runtime'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { createPushHandOff, type PushHandOff } from './push.ts'
import { type Collector, collect } from './testing.ts'

describe('push hand-off poller (real Kafka and Redis)', () => {
  const infra = infraFromEnv()
  const kafka = new Kafka({ clientId: 'push-test', brokers: infra.kafkaBrokers, logLevel: logLevel.NOTHING })
  let redis: Redis
  let admin: Admin
  let producer: Producer
  let writer: InboxWriter
  before(async () => {
    redis = new Redis(infra.redisUrl)
    writer = createInboxWriter(redis, DEFAULT_RETENTION)
    admin = kafka.admin()
    await admin.connect()
    producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    })
    await producer.connect()
  })
  after(async () => {
    await producer.disconnect()
    await admin.disconnect()
    await redis.quit()
  })

  interface World {
    topic: string
    push: PushHandOff
    registry: Registry
    requests: Collector
    /** Writes the notification to the user's inbox and schedules its push (offline: due now). */
    notify(userId: string, n: Notification): Promise<void>
    metric(name: string, labels?: Record<string, string>): Promise<number>
    stop(): Promise<void>
  }

  async function world(topicConfig: Record<string, string> = {}): Promise<World> {
    const topic = uniqueName('push')
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 3,
          configEntries: Object.entries(topicConfig).map(([name, value]) => ({ name, value })),
        },
      ],
      waitForLeaders: true,
    })
    const registry = createMetricsRegistry('push-test')
    const push = createPushHandOff({
      config: { topic, afterMs: 30_000, kinds: undefined, broadcastTopics: new Set([topic]), pollMs: 20 },
      queue: createPushQueue(redis, topic),
      presence: createPresenceStore(redis, { ttlMs: 60_000 }),
      producer,
      inboxTtlSeconds: 86_400,
      registry,
      logger: createLogger('push-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
    })
    const requests = await collect(kafka, topic)
    return {
      topic,
      push,
      registry,
      requests,
      async notify(userId, n) {
        const r = await writer.deliverToUser(userId, `test:${n.id}`, n)
        assert.equal(r.status, 'delivered')
        if (r.status === 'delivered') await push.afterUserDelivery(userId, n, r.seq, r.epoch)
      },
      async metric(name, labels = {}) {
        const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name)
        const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l))
        return Number(v?.value ?? 0)
      },
      async stop() {
        await push.stop()
        await requests.stop()
      },
    }
  }

  const notification = (id: string, dataBytes = 100): Notification => ({
    id,
    kind: 'document.requested',
    createdAt: '2026-11-24T10:05:00.000Z',
    title: 'Document needed',
    body: 'Please upload your latest bank statement.',
    data: { doc: 'y'.repeat(dataBytes) },
  })
  const requested = (w: World): PushRequest[] =>
    w.requests.messages.map((m) => JSON.parse(String(m.value)) as PushRequest)
  const claimedOf = (w: World, userId: string) => redis.zcard(pushClaimedKey(w.topic, pushShard(userId)))

  test("one user's burst bigger than max.message.bytes is sent in parts, every request once", async (t) => {
    const w = await world()
    t.after(() => w.stop())
    const user = uniqueName('u')
    // 80 legal notifications of ~15 KiB: ~1.2 MiB for one partition, over the default 1 MiB; one
    // send of them all was refused as MESSAGE_TOO_LARGE, again after every lease, forever
    const count = 80
    for (let i = 0; i < count; i++) await w.notify(user, notification(`n${i}`, 15_000))
    w.push.start()
    await waitFor(() => requested(w).length >= count, { timeoutMs: 60_000, message: `${count} requests` })
    assert.deepEqual(
      requested(w)
        .map((r) => r.notificationId)
        .sort(),
      Array.from({ length: count }, (_, i) => `n${i}`).sort(),
    )
    await waitFor(async () => (await claimedOf(w, user)) === 0, { message: 'every claim marked done' })
    assert.equal(await w.metric('tidings_dispatcher_push_errors_total'), 0)
  })

  test('a request the topic refuses on its own is dropped and counted; the others of its send go', async (t) => {
    const w = await world({ 'max.message.bytes': '8192' })
    t.after(() => w.stop())
    const user = uniqueName('u')
    // ten that fit alone but not together, one that never fits
    for (let i = 0; i < 5; i++) await w.notify(user, notification(`a${i}`, 1000))
    await w.notify(user, notification('huge', 12_000))
    for (let i = 0; i < 5; i++) await w.notify(user, notification(`b${i}`, 1000))
    w.push.start()
    await waitFor(async () => (await claimedOf(w, user)) === 0, {
      timeoutMs: 30_000,
      message: 'every claim settled',
    })
    await waitFor(() => requested(w).length >= 10, { message: '10 requests' })
    assert.deepEqual(
      requested(w)
        .map((r) => r.notificationId)
        .sort(),
      ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4'],
    )
    assert.equal(await w.metric('tidings_dispatcher_push_refused_total', { reason: 'offline' }), 1)
    assert.equal(await w.metric('tidings_dispatcher_push_errors_total'), 0)

    // a broadcast's request the topic refuses must not fail the event (it would stall its partition)
    await w.push.afterBroadcast(w.topic, notification('huge-broadcast', 12_000))
    assert.equal(await w.metric('tidings_dispatcher_push_refused_total', { reason: 'broadcast' }), 1)
  })

  test("an entry whose check fails stays claimed; its shard's other entries and the other shards go on", async (t) => {
    const w = await world()
    t.after(() => w.stop())
    // shard 0 cannot even be claimed (its due set is not a sorted set): it used to end the round
    // before shards 1..15 were looked at
    await redis.set(pushDueKey(w.topic, 0), 'not a sorted set')
    t.after(() => redis.del(pushDueKey(w.topic, 0)))
    const inShard = (shard: number, tag: string) => {
      for (let i = 0; ; i++) if (pushShard(`${tag}-${i}`) === shard) return `${tag}-${i}`
    }
    const broken = inShard(PUSH_SHARDS - 1, uniqueName('broken'))
    const sameShard = inShard(PUSH_SHARDS - 1, uniqueName('ok'))
    const other = inShard(1, uniqueName('ok'))
    await w.notify(broken, notification('n-broken'))
    await w.notify(sameShard, notification('n-same-shard'))
    await w.notify(other, notification('n-other-shard'))
    // the broken user's state is not a hash: checking their entry fails (WRONGTYPE) every time
    await redis.del(userStateKey(broken))
    await redis.set(userStateKey(broken), 'not a hash')

    w.push.start()
    await waitFor(() => requested(w).length >= 2, { timeoutMs: 30_000, message: '2 requests' })
    await waitFor(async () => (await w.metric('tidings_dispatcher_push_errors_total')) >= 2, {
      message: 'the failing shards are counted',
    })
    assert.deepEqual(
      requested(w)
        .map((r) => r.notificationId)
        .sort(),
      ['n-other-shard', 'n-same-shard'],
    )
    assert.equal(await claimedOf(w, broken), 1, "the broken user's entry waits for its lease")
  })
})
