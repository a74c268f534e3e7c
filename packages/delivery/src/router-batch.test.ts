import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { monitorRedis, type RedisMonitor } from '@tidings/test/support/redis-monitor'
import type { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { userChannel } from './keys.ts'
import type { LiveNotification } from './live-message.ts'
import { DEFAULT_RETENTION } from './options.ts'
import { createChannelRouter } from './router-redis.ts'
import { createDeliveryStore } from './store.ts'

const note = { id: 'x', kind: 'k', createdAt: '2026-11-24T10:00:00.000Z', title: 't', body: 'b', data: {} }
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))
/** A router on `conn`, with the errors it reported. */
const routerOn = (conn: Redis) => {
  const errors: Error[] = []
  return { router: createChannelRouter(conn, (e) => errors.push(e)), errors }
}

// The order in which the router's (un)subscribes reach one Redis, seen from Redis itself (MONITOR).
describe('channel router: the (un)subscribes of one turn, batched in order (real Redis)', () => {
  const target = () => ({ url: infraFromEnv().redisUrl })
  let redis: Redis
  let sub: Redis
  let monitor: RedisMonitor
  const seen: string[][] = [] // every SSUBSCRIBE/SUNSUBSCRIBE Redis ran, with its channels
  before(async () => {
    redis = createRedisConnection(target(), { name: 'router-batch-test' }) as Redis
    sub = createRedisConnection(target(), { name: 'router-batch-test-sub', subscriber: true }) as Redis
    monitor = await monitorRedis(infraFromEnv().redisUrl)
    monitor.on('monitor', (_time: string, args: string[]) => {
      const name = args[0]?.toLowerCase()
      if (name === 'ssubscribe' || name === 'sunsubscribe') seen.push([name, ...args.slice(1)])
    })
  })
  after(() => {
    for (const c of [monitor, redis, sub]) c.disconnect()
  })

  const subscribers = async (...channels: string[]) => {
    const reply = (await redis.call('PUBSUB', 'SHARDNUMSUB', ...channels)) as Array<string | number>
    return channels.map((_, i) => Number(reply[2 * i + 1]))
  }
  const commandsFor = (users: string[]) => {
    const channels = new Set(users.map(userChannel))
    return seen.filter((c) => c.slice(1).some((ch) => channels.has(ch)))
  }
  /** What is delivered to `u` reaches its (re-joined) listener once, and nothing was reported. */
  const receivesAgain = async (u: string, got: Map<string, number>, errors: Error[]) => {
    await createDeliveryStore(redis, DEFAULT_RETENTION).deliverToUser(u, 'e1', note)
    await waitFor(() => got.get(u) === 1, { message: 'the re-joined listener got it' })
    assert.deepEqual(errors, [])
  }
  const counter = () => {
    const got = new Map<string, number>()
    const listen = (u: string) => (_m: LiveNotification) => got.set(u, (got.get(u) ?? 0) + 1)
    return { got, listen }
  }

  test('the leaves of one turn are one SUNSUBSCRIBE, and every channel is unsubscribed', async () => {
    const { router, errors } = routerOn(sub)
    const users = Array.from({ length: 50 }, () => uniqueName('u'))
    const listeners = users.map(() => () => {})
    await Promise.all(users.map((u, i) => router.joinUser(u, listeners[i]!)))
    assert.deepEqual(
      await subscribers(...users.map(userChannel)),
      users.map(() => 1),
    )
    for (const [i, u] of users.entries()) router.leaveUser(u, listeners[i]!) // a pod draining
    assert.equal(router.channelCount, 0)
    const unsubscribed = () => commandsFor(users).filter(([name]) => name === 'sunsubscribe')
    await waitFor(() => unsubscribed().flatMap((c) => c.slice(1)).length === users.length, {
      message: 'every channel in a SUNSUBSCRIBE',
    })
    assert.equal(unsubscribed().length, 1, 'one SUNSUBSCRIBE command')
    await waitFor(async () => (await subscribers(...users.map(userChannel))).every((n) => n === 0), {
      message: 'unsubscribed on Redis',
    })
    assert.deepEqual(errors, [])
  })

  test('a leave and re-join in one turn ends subscribed and receives', async () => {
    const { router, errors } = routerOn(sub)
    const [u, other] = [uniqueName('u'), uniqueName('u')]
    const { got, listen } = counter()
    const first = listen(u)
    await router.joinUser(u, first)
    // An SSUBSCRIBE already waits when the leave comes: the re-join must still go after it.
    const otherJoin = router.joinUser(other, listen(other))
    router.leaveUser(u, first)
    const again = router.joinUser(u, listen(u))
    await Promise.all([otherJoin, again])
    await waitFor(() => commandsFor([u]).length === 3, { message: 'MONITOR caught up' })
    assert.deepEqual(
      commandsFor([u]).map(([name]) => name),
      ['ssubscribe', 'sunsubscribe', 'ssubscribe'],
    )
    assert.deepEqual(await subscribers(userChannel(u), userChannel(other)), [1, 1])
    await receivesAgain(u, got, errors)
  })

  test('a leave and re-join across the end of the turn ends subscribed and receives', async () => {
    const { router, errors } = routerOn(sub)
    const u = uniqueName('u')
    const { got, listen } = counter()
    const first = listen(u)
    await router.joinUser(u, first)
    // the re-join runs in the same check phase, just before the turn's queue is sent
    let before: Promise<void> | undefined
    const second = listen(u)
    setImmediate(() => {
      before = router.joinUser(u, second)
    })
    router.leaveUser(u, first)
    await nextTurn()
    await before
    // and just after it was sent
    router.leaveUser(u, second)
    await nextTurn()
    await router.joinUser(u, listen(u))
    await waitFor(() => commandsFor([u]).length === 5, { message: 'MONITOR caught up' })
    const names = commandsFor([u]).map(([name]) => name)
    assert.deepEqual(names, ['ssubscribe', 'sunsubscribe', 'ssubscribe', 'sunsubscribe', 'ssubscribe'])
    assert.deepEqual(await subscribers(userChannel(u)), [1])
    await receivesAgain(u, got, errors)
  })

  test('a join and leave in one turn send nothing', async () => {
    const { router, errors } = routerOn(sub)
    const [gone, stays, later] = [uniqueName('u'), uniqueName('u'), uniqueName('u')]
    const l = () => {}
    const joins = [router.joinUser(gone, l), router.joinUser(stays, l)]
    router.leaveUser(gone, l)
    await Promise.all(joins)
    await router.joinUser(later, l) // written after anything sent for `gone`
    await waitFor(() => commandsFor([later]).length === 1, { message: 'MONITOR caught up' })
    assert.deepEqual(commandsFor([gone]), [])
    assert.deepEqual(commandsFor([stays]), [['ssubscribe', userChannel(stays)]])
    assert.deepEqual(await subscribers(userChannel(gone), userChannel(stays)), [0, 1])
    assert.deepEqual(errors, [])
  })

  test('a command while the connection is not ready never overtakes the queue of the turn', async () => {
    const errors: Error[] = []
    // The real connection, reporting "reconnecting" on demand: what a join sees after the turn's
    // queue was started while ready (ioredis's status changes between two events).
    let status: string | undefined
    const flaky = new Proxy(sub, {
      get(target, prop) {
        if (prop === 'status' && status) return status
        const value = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const router = createChannelRouter(flaky, (e) => errors.push(e))
    const u = uniqueName('u')
    const { got, listen } = counter()
    const first = listen(u)
    await router.joinUser(u, first)
    router.leaveUser(u, first) // queued
    status = 'reconnecting'
    const again = router.joinUser(u, listen(u))
    status = undefined
    await again
    assert.deepEqual(await subscribers(userChannel(u)), [1])
    await receivesAgain(u, got, errors)
  })

  test('before the connection is ready, joins and leaves keep their order', async () => {
    const errors: Error[] = []
    const fresh = createRedisConnection(target(), { name: 'router-batch-fresh', subscriber: true }) as Redis
    try {
      assert.notEqual(fresh.status, 'ready')
      const router = createChannelRouter(fresh, (e) => errors.push(e))
      const [u, gone] = [uniqueName('u'), uniqueName('u')]
      const { got, listen } = counter()
      const first = listen(u)
      const joins = [router.joinUser(u, first), router.joinUser(gone, listen(gone))]
      router.leaveUser(u, first)
      router.leaveUser(gone, listen(gone)) // not its listener: stays
      joins.push(router.joinUser(u, listen(u)))
      await Promise.all(joins)
      assert.deepEqual(await subscribers(userChannel(u), userChannel(gone)), [1, 1])
      await receivesAgain(u, got, errors)
    } finally {
      fresh.disconnect()
    }
  })

  test('joins and leaves during the connection handshake wait for it to be ready', async () => {
    const errors: Error[] = []
    const fresh = createRedisConnection(target(), {
      name: 'router-batch-handshake',
      subscriber: true,
    }) as Redis
    fresh.on('error', (e) => errors.push(e))
    try {
      const router = createChannelRouter(fresh, (e) => errors.push(e))
      const [u, gone] = [uniqueName('u'), uniqueName('u')]
      const { got, listen } = counter()
      await once(fresh, 'connect') // TCP connected, ioredis's ready check not answered yet
      assert.equal(fresh.status, 'connect')
      const first = listen(u)
      const joins = [router.joinUser(u, first), router.joinUser(gone, listen(gone))]
      await nextTurn()
      router.leaveUser(u, first)
      joins.push(router.joinUser(u, listen(u)))
      await Promise.all(joins)
      assert.equal(fresh.status, 'ready')
      assert.deepEqual(await subscribers(userChannel(u), userChannel(gone)), [1, 1])
      await receivesAgain(u, got, errors)
    } finally {
      fresh.disconnect()
    }
  })

  // A connection as a user whose (un)subscribes Redis refuses: how a failed batch is reported.
  async function withRefused(command: 'ssubscribe' | 'sunsubscribe', use: (conn: Redis) => Promise<void>) {
    const username = uniqueName('refuse')
    await redis.call('ACL', 'SETUSER', username, 'on', 'nopass', '~*', '&*', '+@all', `-${command}`)
    const conn = createRedisConnection(
      { ...target(), username, password: 'unused' },
      { name: username, subscriber: true },
    ) as Redis
    try {
      await conn.ping() // ready: the router batches
      await use(conn)
    } finally {
      conn.disconnect()
      await redis.call('ACL', 'DELUSER', username)
    }
  }

  test('a failed batched SSUBSCRIBE rejects the join of every channel in it, and is not cached', async () => {
    await withRefused('ssubscribe', async (conn) => {
      const { router, errors } = routerOn(conn)
      const joins = [uniqueName('u'), uniqueName('u')].map((u) => router.joinUser(u, () => {}))
      const results = await Promise.allSettled(joins)
      assert.deepEqual(
        results.map((r) => r.status),
        ['rejected', 'rejected'],
      )
      assert.match(String((results[0] as PromiseRejectedResult).reason), /NOPERM/)
      assert.equal(router.channelCount, 0)
      assert.deepEqual(errors, [])
    })
  })

  test('a failed batched SUNSUBSCRIBE is reported once through onError', async () => {
    await withRefused('sunsubscribe', async (conn) => {
      const { router, errors } = routerOn(conn)
      const users = [uniqueName('u'), uniqueName('u')]
      const l = () => {}
      await Promise.all(users.map((u) => router.joinUser(u, l)))
      for (const u of users) router.leaveUser(u, l)
      await waitFor(() => errors.length > 0, { message: 'reported' })
      await conn.ping() // answered after every SUNSUBSCRIBE: no further report is on its way
      assert.equal(errors.length, 1)
      assert.match(errors[0]!.message, /NOPERM/)
    })
  })
})
