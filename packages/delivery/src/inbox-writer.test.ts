import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Notification } from '@tidings/contracts'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import type { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { type DeliverOutcome, deliverEachInOrder, type UserDelivery } from './inbox-writer.ts'
import { userDedupeKey, userInboxKey, userStateKey } from './keys.ts'
import { DEFAULT_RETENTION } from './options.ts'
import { createDeliveryStore, type DeliveryStore } from './store.ts'

const n = (i: number, data: Record<string, unknown> = { i }): Notification => ({
  id: `n${i}`,
  kind: 'k',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: `t${i}`,
  body: 'b',
  data,
})

let redis: Redis
let store: DeliveryStore
before(() => {
  redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'inbox-writer-test' }) as Redis
  store = createDeliveryStore(redis, { ...DEFAULT_RETENTION, inboxCap: 5 })
})
after(() => redis.quit())

const seqs = async (user: string) =>
  (await store.readInbox(user, {})).frames.map((f) => [JSON.parse(f).seq, JSON.parse(f).data.i])

test('deliverToUsers: many users per call, each user in order, the cap and dedupe as one by one', async () => {
  const users = Array.from({ length: 30 }, () => uniqueName('u'))
  // 7 rounds over 30 users: 210 items, more than one script call; each user's seqs 1..7, 3..7 kept
  const items: UserDelivery[] = []
  for (let i = 1; i <= 7; i++)
    for (const u of users) items.push({ userId: u, dedupeId: `e${i}`, notification: n(i) })
  const out = await store.deliverToUsers(items)
  assert.equal(out.length, items.length)
  assert.ok(out.every((o) => o.status === 'delivered'))
  const firstOfLast = out[items.length - 1] as Extract<DeliverOutcome, { status: 'delivered' }>
  assert.deepEqual([firstOfLast.seq, firstOfLast.inboxLength], [7, 5])
  for (const u of users.slice(0, 3)) {
    assert.deepEqual(
      await seqs(u),
      [3, 4, 5, 6, 7].map((i) => [i, i]),
    )
  }
  // the same items again: all duplicates, each pointing at its first delivery
  const again = await store.deliverToUsers(items.slice(0, 2))
  assert.deepEqual(
    again.map((o) => o.status === 'duplicate' && o.first?.seq),
    [1, 1],
  )
  // a single write and a call agree on seqs (the same script body)
  const single = await store.deliverToUser(users[0]!, 'e8', n(8))
  assert.equal(single.status === 'delivered' && single.seq, 8)
})

test('deliverToUsers: after a user item fails, that user’s later items are skipped; others go on', async () => {
  const broken = uniqueName('broken')
  const unencodable = uniqueName('unencodable')
  const fine = uniqueName('fine')
  await redis.set(userStateKey(broken), 'not a hash')
  const out = await store.deliverToUsers([
    { userId: broken, dedupeId: 'e1', notification: n(1) },
    { userId: unencodable, dedupeId: 'e1', notification: n(1, { big: 1n }) },
    { userId: fine, dedupeId: 'e1', notification: n(1) },
    { userId: broken, dedupeId: 'e2', notification: n(2) },
    { userId: unencodable, dedupeId: 'e2', notification: n(2) },
    { userId: fine, dedupeId: 'e2', notification: n(2) },
  ])
  const [b1, u1, f1, b2, u2, f2] = out
  assert.ok(b1?.status === 'failed' && b1.error instanceof Error)
  assert.equal((b1.error as Error).name, 'ReplyError')
  assert.match((b1.error as Error).message, /^WRONGTYPE/)
  assert.ok(u1?.status === 'failed' && u1.error instanceof TypeError)
  assert.deepEqual([b2?.status, u2?.status], ['skipped', 'skipped'])
  assert.deepEqual(
    [f1, f2].map((o) => o?.status === 'delivered' && o.seq),
    [1, 2],
  )
  assert.deepEqual(await seqs(fine), [
    [1, 1],
    [2, 2],
  ])
  assert.deepEqual(await seqs(unencodable), [])
})

test('deliverToUsers: the skip rule holds across script calls too (more items than one call takes)', async () => {
  const user = uniqueName('split')
  // the user's first item fails (cannot be encoded); 100 other users' items push their second item
  // into the next script call, which must skip it all the same
  const others = Array.from(
    { length: 100 },
    (_, i): UserDelivery => ({
      userId: uniqueName('o'),
      dedupeId: 'e1',
      notification: n(i),
    }),
  )
  const out = await store.deliverToUsers([
    { userId: user, dedupeId: 'e1', notification: n(1, { big: 1n }) },
    ...others,
    { userId: user, dedupeId: 'e2', notification: n(2) },
  ])
  assert.equal(out[0]?.status, 'failed')
  assert.equal(out.at(-1)?.status, 'skipped')
  assert.deepEqual(await seqs(user), [])
})

test('an item whose write fails half-way leaves neither its seq nor its dedupe mark behind', async () => {
  const user = uniqueName('half')
  assert.equal(
    (await store.deliverToUsers([{ userId: user, dedupeId: 'e1', notification: n(1) }]))[0]?.status,
    'delivered',
  )
  // the inbox is not a list any more: the item's RPUSH fails after its state was read
  await redis.set(userInboxKey(user), 'not a list')
  const [failed] = await store.deliverToUsers([{ userId: user, dedupeId: 'e2', notification: n(2) }])
  assert.ok(failed?.status === 'failed')
  assert.match((failed.error as Error).message, /^WRONGTYPE/)
  assert.equal(await redis.hget(userStateKey(user), 'seq'), '1', 'the seq did not move without an entry')
  assert.equal(await redis.exists(userDedupeKey(user, 'e2')), 0, 'no dedupe mark')
  // the single-item script shares the body
  await assert.rejects(store.deliverToUser(user, 'e3', n(3)), /^ReplyError: WRONGTYPE|WRONGTYPE/)
  assert.equal(await redis.hget(userStateKey(user), 'seq'), '1')
})

test('deliverToUsers: a call that fails as a whole fails each of its items', async () => {
  const down = createRedisConnection(
    { url: 'redis://127.0.0.1:1' },
    { name: 'inbox-writer-test-down' },
  ) as Redis
  down.on('error', () => undefined)
  try {
    const out = await createDeliveryStore(down, DEFAULT_RETENTION).deliverToUsers([
      { userId: 'a', dedupeId: 'e1', notification: n(1) },
      { userId: 'b', dedupeId: 'e1', notification: n(1) },
    ])
    assert.deepEqual(
      out.map((o) => o.status),
      ['failed', 'failed'],
    )
  } finally {
    down.disconnect()
  }
})

test('deliverEachInOrder: the same rules by single writes (the in-memory inbox)', async () => {
  const tried: string[] = []
  const out = await deliverEachInOrder(
    ['a', 'b', 'a', 'b'].map((userId, i) => ({ userId, dedupeId: `e${i}`, notification: n(i) })),
    async (userId, dedupeId) => {
      tried.push(`${userId}:${dedupeId}`)
      if (userId === 'a') throw new Error('read ECONNRESET')
      return { status: 'delivered', seq: tried.length, epoch: 'x', inboxLength: 1 }
    },
  )
  assert.deepEqual(tried, ['a:e0', 'b:e1', 'b:e3'])
  assert.deepEqual(
    out.map((o) => o.status),
    ['failed', 'delivered', 'skipped', 'delivered'],
  )
})

test('TTLs are refreshed once a minute per user, and always on a new inbox or state', async () => {
  const user = uniqueName('ttl')
  const day = DEFAULT_RETENTION.inboxTtlSeconds
  const ttls = async () => [await redis.ttl(userInboxKey(user)), await redis.ttl(userStateKey(user))]
  const deliver = async (i: number) =>
    (await store.deliverToUsers([{ userId: user, dedupeId: `e${i}`, notification: n(i) }]))[0]?.status
  const [now] = await redis.time()
  assert.equal(await deliver(1), 'delivered')
  assert.ok((await ttls())[0]! > day - 5, 'a new state and inbox get their TTLs')
  // shorten both as if time had passed: a delivery within the minute leaves them as they are
  await redis.expire(userInboxKey(user), 100)
  await redis.expire(userStateKey(user), 200)
  assert.equal(await deliver(2), 'delivered')
  const [inboxTtl, stateTtl] = await ttls()
  assert.ok(inboxTtl! <= 100 && stateTtl! <= 200, `not refreshed: ${inboxTtl}, ${stateTtl}`)
  // a minute after the last refresh (Redis's clock), the next delivery refreshes both
  await redis.hset(userStateKey(user), 'ttlAt', Number(now) - 60)
  assert.equal(await deliver(3), 'delivered')
  assert.deepEqual(
    (await ttls()).map((t) => t > DEFAULT_RETENTION.inboxTtlSeconds - 5),
    [true, true],
  )
  // an inbox emptied by acks is gone: the one the next delivery makes gets a TTL at once
  const { epoch } = await store.readInbox(user, {})
  await store.ack(user, epoch, 3)
  assert.equal(await redis.exists(userInboxKey(user)), 0)
  await redis.expire(userStateKey(user), 200)
  assert.equal(await deliver(4), 'delivered')
  const [fresh, state] = await ttls()
  assert.ok(fresh! > day - 5, `a new inbox has a TTL: ${fresh}`)
  assert.ok(state! > day - 5, `and its state is refreshed with it: ${state}`)
  // a refresh time ahead of Redis's clock (a failover to a replica whose clock is behind) refreshes
  await redis.hset(userStateKey(user), 'ttlAt', Number(now) + 3600)
  await redis.expire(userInboxKey(user), 100)
  assert.equal(await deliver(5), 'delivered')
  assert.ok((await ttls())[0]! > day - 5)
  // the single-item script has the same body
  await redis.expire(userInboxKey(user), 100)
  assert.equal((await store.deliverToUser(user, 'e6', n(6))).status, 'delivered')
  assert.ok((await ttls())[0]! <= 100)
})
