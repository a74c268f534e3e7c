import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Notification } from '@tidings/contracts'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import type { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { computeMissed } from './inbox.ts'
import { createMemoryInbox } from './inbox-memory.ts'
import { userInboxKey, userStateKey } from './keys.ts'
import { DEFAULT_RETENTION } from './options.ts'
import { createDeliveryStore, type DeliveryStore } from './store.ts'

const n = (i: number): Notification => ({
  id: `n${i}`,
  kind: 'k',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: `t${i}`,
  body: 'b',
  data: { i },
})

describe('delivery store (real Redis)', () => {
  let redis: Redis
  let store: DeliveryStore
  before(() => {
    redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'store-test' }) as Redis
    store = createDeliveryStore(redis, { ...DEFAULT_RETENTION, inboxCap: 5 })
  })
  after(() => redis.quit())

  test('seq grows by one per notification; the same dedupe id is a duplicate', async () => {
    const u = uniqueName('u')
    const a = await store.deliverToUser(u, 'e1', n(1))
    const b = await store.deliverToUser(u, 'e2', n(2))
    assert.equal(a.status === 'delivered' && a.seq, 1)
    assert.equal(b.status === 'delivered' && b.seq, 2)
    assert.ok(a.status === 'delivered')
    assert.deepEqual(await store.deliverToUser(u, 'e1', n(1)), {
      status: 'duplicate',
      first: { seq: 1, epoch: a.epoch },
    })
    const read = await store.readInbox(u, {})
    assert.deepEqual(
      read.frames.map((f) => JSON.parse(f).seq),
      [1, 2],
    )
    assert.deepEqual(JSON.parse(read.frames[0]!), { type: 'notification', seq: 1, ...n(1) })
  })

  test('the cap trims the oldest; what nobody acked and is gone is missed', async () => {
    const u = uniqueName('u')
    for (let i = 1; i <= 7; i++) await store.deliverToUser(u, `e${i}`, n(i))
    const read = await store.readInbox(u, {})
    assert.equal(read.firstSeq, 3)
    assert.equal(read.frames.length, 5)
    assert.deepEqual(read.missed, { afterSeq: 0, nextSeq: 3, epoch: read.epoch })
    // a client that had seen up to 4 misses nothing
    const resumed = await store.readInbox(u, { lastSeq: 4, epoch: read.epoch })
    assert.equal(resumed.missed, undefined)
    assert.equal(resumed.firstSeq, 5)
  })

  test('ack trims cumulatively, ignores another epoch, and acked seqs are never missed', async () => {
    const u = uniqueName('u')
    for (let i = 1; i <= 4; i++) await store.deliverToUser(u, `e${i}`, n(i))
    const { epoch } = await store.readInbox(u, {})
    assert.equal(await store.ack(u, 'not-the-epoch', 4), -1)
    assert.equal(await redis.llen(userInboxKey(u)), 4)
    assert.equal(await store.ack(u, epoch, 2), 2)
    assert.equal(await store.ack(u, epoch, 1), 2) // never goes back
    assert.equal(await redis.llen(userInboxKey(u)), 2)
    const read = await store.readInbox(u, { lastSeq: 0, epoch })
    assert.equal(read.missed, undefined)
    assert.equal(read.firstSeq, 3)
    // above the latest seq: only a client from before lost writes can send it; capping it would
    // delete the notifications that now reuse those seqs
    assert.equal(await store.ack(u, undefined, 99), 2)
    assert.equal(await redis.llen(userInboxKey(u)), 2)
    assert.equal(await store.ack(u, undefined, 4), 4)
    assert.equal(await redis.exists(userInboxKey(u)), 0)
  })

  test('lost state gets a new epoch and seq restarts at 1; an old lastSeq is not trusted', async () => {
    const u = uniqueName('u')
    await store.deliverToUser(u, 'e1', n(1))
    await store.deliverToUser(u, 'e2', n(2))
    const { epoch: first } = await store.readInbox(u, {})
    await redis.del(userStateKey(u))
    const res = await store.deliverToUser(u, 'e3', n(3))
    assert.ok(res.status === 'delivered')
    assert.equal(res.seq, 1)
    assert.notEqual(res.epoch, first)
    const read = await store.readInbox(u, { lastSeq: 2, epoch: first })
    assert.deepEqual(
      read.frames.map((f) => JSON.parse(f).title),
      ['t3'],
    ) // the old epoch's entries went with it
    assert.deepEqual(read.missed, { afterSeq: 0, nextSeq: 1, epoch: res.epoch })
  })

  test('a resume point beyond the latest seq (writes lost in a failover) is missed from 0', async () => {
    const u = uniqueName('u')
    for (let i = 1; i <= 3; i++) await store.deliverToUser(u, `e${i}`, n(i))
    const { epoch } = await store.readInbox(u, {})
    // the client saw seq 5, but this state only reached 3 (4 and 5 were lost with a replica)
    const read = await store.readInbox(u, { lastSeq: 5, epoch })
    assert.equal(read.regressed, true)
    assert.deepEqual(read.missed, { afterSeq: 0, nextSeq: 1, epoch })
    assert.deepEqual(
      read.frames.map((f) => JSON.parse(f).seq),
      [1, 2, 3],
    )
  })

  test('a write that fails half-way leaves no dedupe mark: the retry delivers', async () => {
    const u = uniqueName('u')
    await store.deliverToUser(u, 'e0', n(0))
    await redis.set(userInboxKey(u), 'not a list') // the next RPUSH fails with WRONGTYPE
    await assert.rejects(store.deliverToUser(u, 'e1', n(1)), /WRONGTYPE/)
    await redis.del(userInboxKey(u))
    const retry = await store.deliverToUser(u, 'e1', n(1))
    assert.equal(retry.status, 'delivered')
    const read = await store.readInbox(u, {})
    assert.deepEqual(
      read.frames.map((f) => JSON.parse(f).id),
      ['n1'],
    )
  })

  test('the Kafka timestamp and trace context stay in Redis: frames come back without them', async () => {
    const u = uniqueName('u')
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    await store.deliverToUser(u, 'e1', n(1), { producedAt: 1_764_000_000_123, traceparent })
    await store.deliverToUser(u, 'e2', n(2)) // none: stored as before
    await store.deliverToUser(u, 'e3', n(3), {
      producedAt: 1_764_000_000_999,
      traceparent: 'not-a-traceparent',
    })
    const raw = await redis.lrange(userInboxKey(u), 0, -1)
    assert.match(raw[0]!, /^@1764000000123;00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n\{/)
    assert.match(raw[1]!, /^\{/)
    assert.match(raw[2]!, /^@1764000000999;\n\{/, 'a malformed traceparent is never stored')
    const read = await store.readInbox(u, {})
    assert.deepEqual(
      read.frames.map((f) => JSON.parse(f)),
      [1, 2, 3].map((i) => ({ type: 'notification', seq: i, ...n(i) })),
    )
    assert.deepEqual(read.metas, [
      { producedAt: 1_764_000_000_123, traceparent },
      undefined,
      { producedAt: 1_764_000_000_999 },
    ])
    // the ack names seq 1: it comes back with that notification's trace context
    assert.deepEqual(await store.ackWithMeta(u, read.epoch, 1), {
      acked: 1,
      meta: { producedAt: 1_764_000_000_123, traceparent },
    })
    assert.deepEqual(await store.ackWithMeta(u, read.epoch, 1), { acked: 1, meta: undefined }, 'no progress')
    assert.deepEqual(await store.ackWithMeta(u, read.epoch, 2), { acked: 2, meta: undefined })
    assert.deepEqual(await store.ackWithMeta(u, 'other', 3), { acked: -1, meta: undefined })
  })

  test('broadcast: one publish, deduped, frame as in the protocol (no kind)', async () => {
    const topic = uniqueName('t')
    assert.equal(await store.publishToTopic(topic, 'b1', n(1)), 'published')
    assert.equal(await store.publishToTopic(topic, 'b1', n(1)), 'duplicate')
  })
})

test('computeMissed follows the protocol', () => {
  const read = { epoch: 'E', seq: 10, acked: 0, frames: [], metas: [], firstSeq: 6 }
  assert.deepEqual(computeMissed({ lastSeq: 3, epoch: 'E' }, read), { afterSeq: 3, nextSeq: 6, epoch: 'E' })
  assert.equal(computeMissed({ lastSeq: 5, epoch: 'E' }, read), undefined)
  assert.equal(computeMissed({ lastSeq: 0, epoch: 'E' }, { ...read, acked: 5 }), undefined)
  assert.deepEqual(computeMissed({ lastSeq: 9, epoch: 'OLD' }, read), { afterSeq: 0, nextSeq: 6, epoch: 'E' })
  // no epoch: lastSeq is taken to be in the current one
  assert.equal(computeMissed({ lastSeq: 5 }, read), undefined)
  // nothing left to send and unacked seqs expired
  assert.deepEqual(computeMissed({ lastSeq: 4, epoch: 'E' }, { ...read, firstSeq: 11 }), {
    afterSeq: 4,
    nextSeq: 11,
    epoch: 'E',
  })
})

// The resume point's lastId, in both implementations of the inbox (Redis scripts, in memory).
for (const [name, open] of [
  [
    'Redis',
    async () => {
      const redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'store-test-lastid' })
      return {
        store: createDeliveryStore(redis, DEFAULT_RETENTION) as DeliveryStore,
        loseLastWrite: async (u: string) => {
          await redis.hincrby(userStateKey(u), 'seq', -1)
          await redis.rpop(userInboxKey(u))
        },
        close: () => redis.quit(),
      }
    },
  ],
  [
    'memory',
    async () => {
      const inbox = createMemoryInbox({ inboxCap: DEFAULT_RETENTION.inboxCap })
      return {
        store: inbox,
        loseLastWrite: async (u: string) => inbox.loseLatest(u, 1),
        close: async () => undefined,
      }
    },
  ],
] as const) {
  describe(`resume with lastId (${name})`, () => {
    test('the seq holding another id (writes lost, seq reused) is missed from 0; the same id, or an entry gone, resumes after it', async () => {
      const { store, loseLastWrite, close } = await open()
      try {
        const u = uniqueName('u')
        const odd = { ...n(2), id: 'n2 "quoted" \\ é' } // escaped in the frame as JSON.stringify does
        await store.deliverToUser(u, 'e1', n(1))
        await store.deliverToUser(u, 'e2', odd)
        const { epoch } = await store.readInbox(u, {})
        const same = await store.readInbox(u, { lastSeq: 2, epoch, lastId: odd.id })
        assert.equal(same.regressed, undefined)
        assert.deepEqual([same.frames.length, same.missed], [0, undefined])

        await loseLastWrite(u)
        const { epoch: now } = await store.readInbox(u, {})
        // takes seq 2 again; its data holds the old seq and id, which must not pass for them
        await store.deliverToUser(u, 'e3', { ...n(3), data: { seq: 2, id: odd.id } })
        const reused = await store.readInbox(u, { lastSeq: 2, epoch: now, lastId: odd.id })
        assert.equal(reused.regressed, true)
        assert.deepEqual(reused.missed, { afterSeq: 0, nextSeq: 1, epoch: now })
        assert.deepEqual(
          reused.frames.map((f) => JSON.parse(f).title),
          ['t1', 't3'],
        )
        // acked (gone from the inbox): nothing to compare, the position is trusted
        await store.ack(u, now, 2)
        const gone = await store.readInbox(u, { lastSeq: 2, epoch: now, lastId: odd.id })
        assert.deepEqual([gone.regressed, gone.missed, gone.frames.length], [undefined, undefined, 0])
      } finally {
        await close()
      }
    })
  })
}
