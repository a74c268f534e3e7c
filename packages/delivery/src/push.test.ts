import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Notification } from '@tidings/contracts'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import type { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { DEFAULT_RETENTION } from './options.ts'
import {
  createPushQueue,
  decodePushEntry,
  encodePushEntry,
  PUSH_SHARDS,
  type PushEntry,
  type PushQueue,
  pushShard,
} from './push.ts'
import { createDeliveryStore, type DeliveryStore } from './store.ts'

const notification = (id: string): Notification => ({
  id,
  kind: 'loan.decision',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: 't',
  body: 'b',
  data: { loanId: 'L-1' },
})

describe('push queue (real Redis)', () => {
  let redis: Redis
  let store: DeliveryStore
  let queue: PushQueue
  before(() => {
    redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'push-test' }) as Redis
    store = createDeliveryStore(redis, DEFAULT_RETENTION)
  })
  after(() => redis.quit())
  // each test its own queue (= push topic): shards are shared by all users of a queue
  const freshQueue = () => {
    queue = createPushQueue(redis, uniqueName('push'))
    return queue
  }
  const entry = (userId: string, seq = 1, epoch = 'e'): PushEntry => ({
    notificationId: `${userId}-n${seq}`,
    userId,
    epoch,
    seq,
    reason: 'offline',
  })

  test('entries round-trip; users spread over the shards', () => {
    const e = entry('b-1042', 7)
    assert.deepEqual(decodePushEntry(encodePushEntry(e)), e)
    assert.equal(decodePushEntry('garbage'), undefined)
    const shards = new Set(Array.from({ length: 1000 }, (_, i) => pushShard(`b-${i}`)))
    assert.equal(shards.size, PUSH_SHARDS)
  })

  test('due now: claimed once; scheduled twice or after done: nothing more', async () => {
    const q = freshQueue()
    const e = entry(uniqueName('u'))
    assert.equal(await q.schedule(e, 0), true)
    assert.equal(await q.schedule(e, 0), false, 'already queued')
    const shard = pushShard(e.userId)
    assert.deepEqual(await q.claim(shard, 60_000, 10), [e])
    assert.deepEqual(await q.claim(shard, 60_000, 10), [], 'claimed: leased to its claimer')
    await q.done(e, 60)
    assert.equal(await q.schedule(e, 0), false, 'handled: a redelivered event does not push again')
    assert.deepEqual(await q.claim(shard, 60_000, 10), [])
  })

  test('not due yet: not claimed', async () => {
    const q = freshQueue()
    const e = entry(uniqueName('u'))
    await q.schedule(e, 60_000)
    assert.deepEqual(await q.claim(pushShard(e.userId), 60_000, 10), [])
  })

  test('a claim whose lease expired (its dispatcher died) is claimed again', async () => {
    const q = freshQueue()
    const e = entry(uniqueName('u'))
    await q.schedule(e, 0)
    const shard = pushShard(e.userId)
    assert.deepEqual(await q.claim(shard, 50, 10), [e])
    // another dispatcher polling the shard takes it once the 50 ms lease has run out
    const again = await waitFor(async () => {
      const c = await q.claim(shard, 60_000, 10)
      return c.length > 0 ? c : undefined
    })
    assert.deepEqual(again, [e])
  })

  test('an event redelivered while its push is claimed (between CLAIM and DONE) does not queue it again', async () => {
    const q = freshQueue()
    const e = entry(uniqueName('u'))
    const shard = pushShard(e.userId)
    assert.equal(await q.schedule(e, 0), true)
    assert.deepEqual(await q.claim(shard, 60_000, 10), [e])
    // the redelivery may see the user's presence changed: the other reason is the same notification
    assert.equal(await q.schedule(e, 0), false, 'claimed: being pushed right now')
    assert.equal(await q.schedule({ ...e, reason: 'unacked' }, 0), false, 'claimed, under the other reason')
    await q.done(e, 60)
    assert.deepEqual(await q.claim(shard, 60_000, 10), [], 'one push, not two')
  })

  test('queued under one reason: the other reason does not queue it twice', async () => {
    const q = freshQueue()
    const e = entry(uniqueName('u'))
    assert.equal(await q.schedule(e, 60_000), true)
    assert.equal(await q.schedule({ ...e, reason: 'unacked' }, 0), false)
  })

  test('a round re-leases at most expiredLimit expired claims; due entries get the rest', async () => {
    const q = freshQueue()
    const shard = pushShard('b-0')
    // entries of users that all hash to that shard
    const inShard = (n: number, tag: string) => {
      const out: PushEntry[] = []
      for (let i = 0; out.length < n; i++)
        if (pushShard(`${tag}-${i}`) === shard) out.push(entry(`${tag}-${i}`))
      return out
    }
    const expired = inShard(4, uniqueName('old'))
    for (const e of expired) await q.schedule(e, 0)
    // a lease of 0 ms has run out as soon as it is taken: as if its dispatcher died
    assert.equal((await q.claim(shard, 0, 10)).length, 4)
    const due = inShard(4, uniqueName('new'))
    for (const e of due) await q.schedule(e, 0)
    const taken = await q.claim(shard, 60_000, 4, 1)
    const expiredUsers = new Set(expired.map((e) => e.userId))
    assert.equal(taken.filter((e) => expiredUsers.has(e.userId)).length, 1, 'one expired claim re-leased')
    assert.equal(taken.length, 4, 'and three due entries')
  })

  test('check: pending with its inbox entry, acked, or gone', async () => {
    const q = freshQueue()
    const user = uniqueName('u')
    const a = await store.deliverToUser(user, 'd1', notification('n1'))
    const b = await store.deliverToUser(user, 'd2', notification('n2'))
    assert.ok(a.status === 'delivered' && b.status === 'delivered')
    const first = { ...entry(user, a.seq, a.epoch), notificationId: 'n1' }
    const second = { ...entry(user, b.seq, b.epoch), notificationId: 'n2' }
    const pending = await q.check(second)
    assert.equal(pending.status, 'pending')
    assert.match(pending.status === 'pending' ? pending.entry : '', /"id":"n2"/)

    await store.ack(user, a.epoch, a.seq)
    assert.deepEqual(await q.check(first), { status: 'acked' })
    assert.equal((await q.check(second)).status, 'pending')
    assert.deepEqual(await q.check({ ...second, epoch: 'another-epoch' }), { status: 'gone' })
    assert.deepEqual(await q.check({ ...second, seq: 99 }), { status: 'gone' })
    assert.deepEqual(await q.check(entry(uniqueName('nobody'))), { status: 'gone' })
  })

  test('a queue name that could break a hash tag is refused', () => {
    assert.throws(() => createPushQueue(redis, 'a{b}'), RangeError)
  })
})
