import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import type { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { userChannel } from './keys.ts'
import type { LiveNotification } from './live-message.ts'
import { DEFAULT_RETENTION } from './options.ts'
import { createPresenceStore } from './presence-redis.ts'
import { createChannelRouter } from './router-redis.ts'
import { createDeliveryStore } from './store.ts'

const note = { id: 'x', kind: 'k', createdAt: '2026-11-24T10:00:00.000Z', title: 't', body: 'b', data: {} }

describe('channel router and presence (real Redis)', () => {
  let redis: Redis
  let sub: Redis
  before(() => {
    const target = { url: infraFromEnv().redisUrl }
    redis = createRedisConnection(target, { name: 'router-test' }) as Redis
    sub = createRedisConnection(target, { name: 'router-test-sub', subscriber: true }) as Redis
  })
  after(() => {
    redis.disconnect()
    sub.disconnect()
  })

  const subscribers = async (channel: string) =>
    Number(((await redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1])

  test('subscribes on the first join, unsubscribes on the last leave; only joined users receive', async () => {
    const errors: Error[] = []
    const router = createChannelRouter(sub, (e) => errors.push(e))
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    const [u1, u2] = [uniqueName('u'), uniqueName('u')]
    const got1: LiveNotification[] = []
    const got1b: LiveNotification[] = []
    const l1 = (m: LiveNotification) => got1.push(m)
    const l1b = (m: LiveNotification) => got1b.push(m)
    await router.joinUser(u1, l1)
    await router.joinUser(u1, l1b)
    assert.equal(router.channelCount, 1)
    assert.equal(await subscribers(userChannel(u1)), 1)
    await store.deliverToUser(u1, 'e1', note)
    await store.deliverToUser(u2, 'e1', note) // nobody here holds u2
    await waitFor(() => got1.length === 1 && got1b.length === 1, { message: 'both listeners got it' })
    assert.equal(got1[0]!.seq, 1)
    assert.equal(got1[0], got1b[0]) // decoded once per pod, shared by listeners
    router.leaveUser(u1, l1)
    assert.equal(router.channelCount, 1)
    router.leaveUser(u1, l1b)
    assert.equal(router.channelCount, 0)
    await waitFor(async () => (await subscribers(userChannel(u1))) === 0, { message: 'unsubscribed' })
    assert.deepEqual(errors, [])
  })

  test('joins of one turn share one SSUBSCRIBE; a leave before it goes out subscribes nothing', async () => {
    const errors: Error[] = []
    const router = createChannelRouter(sub, (e) => errors.push(e))
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    const users = [uniqueName('u'), uniqueName('u'), uniqueName('u')] // several slots in one command
    const [gone, back] = [uniqueName('u'), uniqueName('u')]
    const got = new Map<string, number>()
    const listen = (u: string) => () => got.set(u, (got.get(u) ?? 0) + 1)
    const listeners = users.map(listen)
    const joins = users.map((u, i) => router.joinUser(u, listeners[i]!))
    const lGone = listen(gone)
    const goneJoin = router.joinUser(gone, lGone)
    router.leaveUser(gone, lGone) // the same turn: taken out of the batch
    const lBack1 = listen(back)
    const lBack2 = listen(back)
    const backJoin1 = router.joinUser(back, lBack1)
    router.leaveUser(back, lBack1)
    const backJoin2 = router.joinUser(back, lBack2) // left and joined again in the same turn
    await Promise.all([...joins, goneJoin, backJoin1, backJoin2])
    for (const u of [...users, back]) assert.equal(await subscribers(userChannel(u)), 1, u)
    assert.equal(await subscribers(userChannel(gone)), 0)
    for (const u of [...users, back, gone]) await store.deliverToUser(u, 'e1', note)
    await waitFor(() => [...users, back].every((u) => got.get(u) === 1), {
      message: 'each joined user got it',
    })
    assert.equal(got.get(gone), undefined)
    for (const [i, u] of users.entries()) router.leaveUser(u, listeners[i]!)
    router.leaveUser(back, lBack2)
    assert.equal(router.channelCount, 0)
    assert.deepEqual(errors, [])
  })

  test('presence admits up to the limit, frees on leave, and forgets sessions that stop refreshing', async () => {
    const presence = createPresenceStore(redis, { ttlMs: 1000 })
    const u = uniqueName('u')
    assert.equal(await presence.join(u, 's1', 2), true)
    assert.equal(await presence.join(u, 's2', 2), true)
    assert.equal(await presence.join(u, 's3', 2), false)
    assert.equal(await presence.count(u), 2)
    await presence.leave(u, 's1')
    assert.equal(await presence.join(u, 's3', 2), true)
    // nobody refreshes: like the sessions of a pod that was killed
    await waitFor(async () => (await presence.count(u)) === 0, { timeoutMs: 5000, message: 'expired' })
    assert.equal(await presence.join(u, 's4', 2), true)
  })
})
