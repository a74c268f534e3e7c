import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { NotificationFrame } from '@tidings/contracts'
import { userInboxKey, userStateKey } from '@tidings/delivery'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { Redis } from 'ioredis'
import { notification, startTestGateway, type TestGateway } from './testing/test-gateway.ts'

const seqs = (frames: { type: string }[]) =>
  frames.filter((f): f is NotificationFrame => f.type === 'notification').map((f) => f.seq)

describe('replay, live, ack and missed', () => {
  let gw: TestGateway
  let redis: Redis
  before(async () => {
    gw = await startTestGateway()
    redis = new Redis(infraFromEnv().redisUrl)
  })
  after(async () => {
    await gw.stop()
    redis.disconnect()
  })

  async function deliver(user: string, n: number, label = 'x') {
    for (let i = 0; i < n; i++) await gw.store.deliverToUser(user, uniqueName(label), notification(label))
  }

  test('notifications written while offline are replayed in order, then live ones follow', async () => {
    const user = uniqueName('u')
    await deliver(user, 3, 'offline')
    const s = await openSocket(gw.url, { token: await signUserToken(user) })
    const welcome = await s.next('welcome')
    await s.waitForCount('notification', 3)
    await deliver(user, 2, 'live')
    const frames = await s.waitForCount('notification', 5)
    assert.deepEqual(seqs(frames), [1, 2, 3, 4, 5])
    const first = frames[0] as NotificationFrame
    assert.equal(first.title, 'title offline')
    assert.deepEqual(first.data, { label: 'offline' })
    assert.equal(s.frames[0]!.type, 'welcome')
    assert.ok(welcome.epoch)
    assert.equal(
      s.frames.some((f) => f.type === 'missed'),
      false,
    )
    await s.close()
  })

  test('a resume with lastSeq and epoch gets only newer notifications', async () => {
    const user = uniqueName('u')
    await deliver(user, 4)
    const token = await signUserToken(user)
    const a = await openSocket(gw.url, { token })
    const { epoch } = await a.next('welcome')
    await a.waitForCount('notification', 4)
    await a.close()
    await deliver(user, 2)
    const b = await openSocket(gw.url, { token, query: { lastSeq: 4, epoch } })
    await b.next('welcome')
    assert.deepEqual(seqs(await b.waitForCount('notification', 2)), [5, 6])
    await b.close()
  })

  test('a lastSeq without its epoch is not trusted: replay from the oldest', async () => {
    const user = uniqueName('u')
    await deliver(user, 3)
    const s = await openSocket(gw.url, { token: await signUserToken(user), query: { lastSeq: 2 } })
    await s.next('welcome')
    assert.deepEqual(seqs(await s.waitForCount('notification', 3)), [1, 2, 3])
    await s.close()
  })

  test('an ack that names another epoch trims nothing (it was sent before an epoch change)', async () => {
    const user = uniqueName('u')
    await deliver(user, 3)
    const s = await openSocket(gw.url, { token: await signUserToken(user) })
    const { epoch } = await s.next('welcome')
    await s.waitForCount('notification', 3)
    s.send({ type: 'ack', seq: 2, epoch: 'some-older-epoch' })
    s.send({ type: 'ping' })
    await s.next('pong')
    assert.equal(await redis.llen(userInboxKey(user)), 3)
    s.send({ type: 'ack', seq: 2, epoch })
    s.send({ type: 'ping' })
    await s.next('pong')
    assert.equal(await redis.llen(userInboxKey(user)), 1)
    await s.close()
  })

  test('acked notifications are removed and not replayed again', async () => {
    const user = uniqueName('u')
    await deliver(user, 5)
    const token = await signUserToken(user)
    const a = await openSocket(gw.url, { token })
    await a.waitForCount('notification', 5)
    a.send({ type: 'ack', seq: 3 })
    // the ack is applied before the next frame is handled: the pong proves it is done
    a.send({ type: 'ping' })
    await a.next('pong')
    assert.equal(await redis.llen(userInboxKey(user)), 2)
    await a.close()
    // a fresh device without a resume point gets only what nobody acknowledged
    const b = await openSocket(gw.url, { token })
    await b.next('welcome')
    assert.deepEqual(seqs(await b.waitForCount('notification', 2)), [4, 5])
    assert.equal(
      b.frames.some((f) => f.type === 'missed'),
      false,
    )
    await b.close()
  })

  test('notifications trimmed by the inbox cap are reported as missed', async () => {
    const user = uniqueName('u')
    const small = await startTestGateway({ INBOX_CAP: '3' })
    try {
      const { createDeliveryStore, createRedisConnection, DEFAULT_RETENTION } = await import(
        '@tidings/delivery'
      )
      const conn = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'cap-writer' })
      const capped = createDeliveryStore(conn, { ...DEFAULT_RETENTION, inboxCap: 3 })
      for (let i = 0; i < 5; i++) await capped.deliverToUser(user, uniqueName('e'), notification('cap'))
      conn.disconnect()
      const s = await openSocket(small.url, { token: await signUserToken(user) })
      const { epoch } = await s.next('welcome')
      const missed = await s.next('missed')
      assert.deepEqual(missed, { type: 'missed', afterSeq: 0, nextSeq: 3, epoch })
      assert.deepEqual(seqs(await s.waitForCount('notification', 3)), [3, 4, 5])
      // missed comes before the replay
      assert.ok(
        s.frames.findIndex((f) => f.type === 'missed') < s.frames.findIndex((f) => f.type === 'notification'),
      )
      await s.close()
    } finally {
      await small.stop()
    }
  })

  test('after the user’s Redis state is lost the epoch changes and the client gets missed', async () => {
    const user = uniqueName('u')
    await deliver(user, 3)
    const token = await signUserToken(user)
    const a = await openSocket(gw.url, { token })
    const { epoch: oldEpoch } = await a.next('welcome')
    await a.waitForCount('notification', 3)
    await a.close()
    await redis.del(userStateKey(user), userInboxKey(user)) // what FLUSHALL or a failover does to this user
    await deliver(user, 1, 'new-life')
    const b = await openSocket(gw.url, { token, query: { lastSeq: 3, epoch: oldEpoch } })
    const welcome = await b.next('welcome')
    assert.notEqual(welcome.epoch, oldEpoch)
    assert.deepEqual(await b.next('missed'), {
      type: 'missed',
      afterSeq: 0,
      nextSeq: 1,
      epoch: welcome.epoch,
    })
    const [n] = await b.waitForCount('notification', 1)
    assert.equal((n as NotificationFrame).seq, 1)
    assert.equal((n as NotificationFrame).title, 'title new-life')
    await b.close()
  })

  test('a live session follows an epoch change with missed, never dropping the new seq 1', async () => {
    const user = uniqueName('u')
    await deliver(user, 2)
    const s = await openSocket(gw.url, { token: await signUserToken(user) })
    const { epoch } = await s.next('welcome')
    await s.waitForCount('notification', 2)
    await redis.del(userStateKey(user), userInboxKey(user))
    await deliver(user, 1, 'after-loss')
    const missed = await s.next('missed')
    assert.equal(missed.afterSeq, 0)
    assert.notEqual(missed.epoch, epoch)
    const frames = await s.waitForCount('notification', 3)
    assert.equal((frames[2] as NotificationFrame).title, 'title after-loss')
    assert.equal((frames[2] as NotificationFrame).seq, 1)
    await s.close()
  })

  test('every session of a user receives (phone + tablet), another user receives nothing', async () => {
    const user = uniqueName('u')
    const other = uniqueName('other')
    const token = await signUserToken(user)
    const phone = await openSocket(gw.url, { token })
    const tablet = await openSocket(gw.url, { token })
    const stranger = await openSocket(gw.url, { token: await signUserToken(other) })
    await Promise.all([phone.next('welcome'), tablet.next('welcome'), stranger.next('welcome')])
    await deliver(user, 3)
    assert.deepEqual(seqs(await phone.waitForCount('notification', 3)), [1, 2, 3])
    assert.deepEqual(seqs(await tablet.waitForCount('notification', 3)), [1, 2, 3])
    stranger.send({ type: 'ping' })
    await stranger.next('pong')
    assert.equal(seqs(stranger.frames).length, 0)
    await Promise.all([phone.close(), tablet.close(), stranger.close()])
    // the last session leaving releases the pod's subscription
    await waitFor(() => gw.gateway.pod.router.channelCount === 0, { message: 'channels released' })
  })

  test('a burst written during the replay arrives complete, in order, without duplicates', async () => {
    const user = uniqueName('u')
    await deliver(user, 50, 'before')
    const s = await openSocket(gw.url, { token: await signUserToken(user) })
    // written concurrently with the replay of the first 50
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => gw.store.deliverToUser(user, `burst-${i}`, notification('burst'))),
    )
    const frames = await s.waitForCount('notification', 100)
    assert.deepEqual(
      seqs(frames),
      Array.from({ length: 100 }, (_, i) => i + 1),
    )
    await s.close()
  })
})
