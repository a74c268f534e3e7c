// Redis goes away under a running dispatcher: consumption must pause without committing anything
// that is not in Redis, and resume by itself when Redis is back.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { startRedis, uniqueName, waitFor } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import {
  committedTotal,
  dispatcherWorld,
  loanEvent,
  metricValue,
  startDispatcher,
  testConfig,
  waitForInbox,
} from './testing.ts'

test('Redis down: offsets stay put, nothing is skipped, delivery resumes when Redis is back', async (t) => {
  const redisServer = await startRedis()
  t.after(() => redisServer.stop())
  const config = testConfig({ REDIS_URL: redisServer.url, TOPIC_PARTITIONS: '1' })
  const topic = config.topics.loanDecisions
  const groupId = config.kafka.groupId
  const { dispatcher, producer, admin, reader } = await dispatcherWorld(t, config, redisServer.url)

  const user = uniqueName('u')
  const produce = async (label: string, n: number) => {
    const events = Array.from({ length: n }, (_, i) =>
      loanEvent({ borrowerId: user, loanId: `${label}-${i + 1}` }),
    )
    await producer.send({
      topic,
      messages: events.map((e) => ({ key: user, value: JSON.stringify(e) })),
    })
    return events
  }

  // 1. Healthy: 3 events delivered and committed.
  await produce('A', 3)
  const before = await waitForInbox(reader, user, 3)
  await waitFor(async () => (await committedTotal(admin, groupId, topic)) === 3, {
    message: 'offset 3 committed',
  })

  // 2. Redis dies; 4 more events arrive. The dispatcher must keep retrying them, not commit them.
  // (SHUTDOWN rather than redisServer.stop(): stop() removes the server's directory, after which the
  // infra's restart() cannot start it again.)
  await shutdown(redisServer.url, redisServer.port)
  await produce('B', 4)
  const retriesAtStop = await metricValue(dispatcher, 'tidings_dispatcher_redis_retries_total')
  await waitFor(
    async () =>
      (await metricValue(dispatcher, 'tidings_dispatcher_redis_retries_total')) >= retriesAtStop + 3,
    { timeoutMs: 20_000, message: 'the dispatcher retried the B events at least 3 times' },
  )
  assert.equal(
    await committedTotal(admin, groupId, topic),
    3,
    'nothing past the delivered events is committed',
  )
  const ready = await fetch(`http://127.0.0.1:${dispatcher.httpPort}/readyz`)
  assert.equal(ready.status, 503)
  assert.deepEqual(await ready.json(), { status: 'not ready', consumer: true, redis: false })
  assert.equal(await metricValue(dispatcher, 'tidings_dispatcher_retrying_partitions'), 1)

  // 3. Redis comes back empty (no persistence: A is gone with it, and the user's epoch is new, which
  // is how a gateway tells clients so). Every B event must arrive, in order, seq 1..4 of the new
  // epoch; none of A may be re-delivered (they were committed because they had been stored).
  await redisServer.restart()
  const after = await waitForInbox(reader, user, 4, 20_000)
  assert.notEqual(after.epoch, before.epoch)
  assert.deepEqual(
    after.frames.map((f) => [f.seq, f.data.loanId]),
    [
      [1, 'B-1'],
      [2, 'B-2'],
      [3, 'B-3'],
      [4, 'B-4'],
    ],
  )
  await waitFor(async () => (await committedTotal(admin, groupId, topic)) === 7, {
    message: 'offset 7 committed',
  })

  // 4. And it goes on as usual.
  await produce('C', 1)
  const later = await waitForInbox(reader, user, 5)
  assert.deepEqual(
    later.frames.map((f) => f.seq),
    [1, 2, 3, 4, 5],
  )
  await waitFor(async () => (await fetch(`http://127.0.0.1:${dispatcher.httpPort}/readyz`)).status === 200, {
    message: 'ready again',
  })
  assert.equal(await metricValue(dispatcher, 'tidings_dispatcher_retrying_partitions'), 0)
})

test('a dispatcher stopped while Redis is down commits nothing unstored; its successor delivers it all', async (t) => {
  const redisServer = await startRedis()
  t.after(() => redisServer.stop())
  const config = testConfig({ REDIS_URL: redisServer.url, TOPIC_PARTITIONS: '1' })
  const topic = config.topics.loanDecisions
  const groupId = config.kafka.groupId
  const { dispatcher: first, producer, admin, reader } = await dispatcherWorld(t, config, redisServer.url)

  const user = uniqueName('u')
  const produce = (label: string, n: number) =>
    producer.send({
      topic,
      messages: Array.from({ length: n }, (_, i) => ({
        key: user,
        value: JSON.stringify(loanEvent({ borrowerId: user, loanId: `${label}-${i + 1}` })),
      })),
    })

  await produce('A', 2)
  await waitForInbox(reader, user, 2)
  await waitFor(async () => (await committedTotal(admin, groupId, topic)) === 2, {
    message: 'offset 2 committed',
  })

  await shutdown(redisServer.url, redisServer.port)
  await produce('B', 3)
  const retries = await metricValue(first, 'tidings_dispatcher_redis_retries_total')
  await waitFor(
    async () => (await metricValue(first, 'tidings_dispatcher_redis_retries_total')) >= retries + 2,
    {
      timeoutMs: 20_000,
      message: 'the first dispatcher is retrying',
    },
  )

  // SIGTERM while stuck: the batch in hand lets go without resolving what is not stored.
  const stopStarted = Date.now()
  await first.close()
  assert.ok(Date.now() - stopStarted < 10_000, 'a stalled dispatcher still stops promptly')
  assert.equal(await committedTotal(admin, groupId, topic), 2, 'the stop committed nothing unstored')

  await redisServer.restart()
  const second = await startDispatcher(config)
  t.after(() => second.close())
  const inbox = await waitForInbox(reader, user, 3, 20_000)
  assert.deepEqual(
    inbox.frames.map((f) => [f.seq, f.data.loanId]),
    [
      [1, 'B-1'],
      [2, 'B-2'],
      [3, 'B-3'],
    ],
  )
  await waitFor(async () => (await committedTotal(admin, groupId, topic)) === 5, {
    message: 'offset 5 committed',
  })
})

test('a backoff longer than the session timeout heartbeats: the dispatcher is not evicted from its group', async (t) => {
  const redisServer = await startRedis()
  t.after(() => redisServer.stop())
  // a 7.2–9 s backoff against a 6 s session: one sleep without heartbeats got the member evicted,
  // and the group rebalanced in every backoff of an outage
  const config = testConfig({
    REDIS_URL: redisServer.url,
    TOPIC_PARTITIONS: '1',
    RETRY_INITIAL_MS: '9000',
    RETRY_MAX_MS: '9000',
  })
  assert.ok(config.retry.maxMs > config.kafka.sessionTimeoutMs)
  const topic = config.topics.loanDecisions
  const { dispatcher, producer, admin, reader } = await dispatcherWorld(t, config, redisServer.url)
  const members = async () =>
    (await admin.describeGroups([config.kafka.groupId])).groups[0]?.members.map((m) => m.memberId)
  const user = uniqueName('u')
  const produce = (loanId: string) =>
    producer.send({
      topic,
      messages: [{ key: user, value: JSON.stringify(loanEvent({ borrowerId: user, loanId })) }],
    })

  await produce('A')
  await waitForInbox(reader, user, 1)
  const before = await members()
  assert.equal(before?.length, 1)

  await shutdown(redisServer.url, redisServer.port)
  await produce('B')
  const retries = await metricValue(dispatcher, 'tidings_dispatcher_redis_retries_total')
  await waitFor(
    async () => (await metricValue(dispatcher, 'tidings_dispatcher_redis_retries_total')) >= retries + 2,
    { timeoutMs: 40_000, message: 'a whole backoff went by, and the retry after it' },
  )
  assert.deepEqual(await members(), before, 'the same member all along: never evicted')

  await redisServer.restart()
  const inbox = await waitForInbox(reader, user, 1, 30_000)
  assert.deepEqual(
    inbox.frames.map((f) => f.data.loanId),
    ['B'],
  )
})

/** Kills the (private) redis-server the way a crash would: no save, clients cut off. */
async function shutdown(url: string, port: number): Promise<void> {
  const admin = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null })
  admin.on('error', () => undefined)
  // the server closes the connection instead of replying
  await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined)
  admin.disconnect()
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1')
        socket.once('connect', () => {
          socket.destroy()
          resolve(false)
        })
        socket.once('error', () => resolve(true))
      }),
    { message: 'redis-server is down' },
  )
}
