import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, test } from 'node:test'
import type { Notification } from '@tidings/contracts'
import { ConfigError } from '@tidings/runtime'
import {
  type Certificates,
  makeCertificates,
  type RedisCluster,
  startRedisCluster,
  uniqueName,
  waitFor,
} from '@tidings/test/infra'
import type { Cluster } from 'ioredis'
import { checkRedisAccess } from './access.ts'
import { createRedisConnection, type RedisTarget } from './connection.ts'
import { userStateKey } from './keys.ts'
import type { LiveNotification } from './live-message.ts'
import { DEFAULT_RETENTION } from './options.ts'
import { createChannelRouter } from './router-redis.ts'
import { createDeliveryStore } from './store.ts'
import { exerciseRefreshMany } from './testing.ts'

// The same scripts and sharded pub/sub on a 3-primary Redis Cluster: every key and channel of a
// user hashes to one slot, so each script runs on the shard that owns the user. Twice: a plain
// cluster, and a secured one (TLS only, the bus too; an ACL user with a password).
const user = { name: 'tidings-app', password: 'cluster-user-password-0123' }
let cluster: RedisCluster
let secure: RedisCluster
let certs: Certificates
before(async () => {
  certs = await makeCertificates()
  ;[cluster, secure] = await Promise.all([
    startRedisCluster(),
    startRedisCluster({ secure: { ...certs, password: 'default-password-0123', user } }),
  ])
})
after(async () => {
  await Promise.all([cluster?.stop(), secure?.stop()])
  if (certs) rmSync(certs.dir, { recursive: true, force: true })
})

test('delivery, replay and live routing work on a Redis Cluster for users on every shard', () =>
  exercise({ clusterNodes: cluster.nodes }))

test('the same on a Cluster with TLS and an ACL user; a wrong password is a ConfigError', async () => {
  const target: RedisTarget = {
    clusterNodes: secure.nodes,
    username: user.name,
    password: user.password,
    tls: { ca: certs.ca },
  }
  await checkRedisAccess(target)
  await assert.rejects(
    checkRedisAccess({ ...target, password: 'wrong' }),
    (err: unknown) => err instanceof ConfigError && err.variable === 'REDIS_PASSWORD',
  )
  await exercise(target)
})

const note = (u: string, i: number): Notification => ({
  id: `${u}-${i}`,
  kind: 'k',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: 't',
  body: 'b',
  data: {},
})

test('presence refreshMany: one call per shard for users on every shard', async () => {
  const redis = createRedisConnection({ clusterNodes: cluster.nodes }, { name: 'cluster-presence-test' })
  try {
    await exerciseRefreshMany(redis)
  } finally {
    redis.disconnect()
  }
})

async function exercise(target: RedisTarget): Promise<void> {
  const redis = createRedisConnection(target, { name: 'cluster-test' })
  const sub = createRedisConnection(target, { name: 'cluster-test-sub', subscriber: true })
  try {
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    const router = createChannelRouter(sub, (e) => assert.fail(e))
    const users = Array.from({ length: 12 }, () => uniqueName('u'))
    const got = new Map<string, number[]>()
    for (const u of users) {
      got.set(u, [])
      await router.joinUser(u, (m: LiveNotification) => got.get(u)!.push(m.seq))
    }
    // concurrent writes: auto-pipelined per node
    await Promise.all(users.flatMap((u) => [1, 2, 3].map((i) => store.deliverToUser(u, `e${i}`, note(u, i)))))
    // and in calls of many users (the dispatcher's way): grouped so that each call stays in one slot
    const many = await store.deliverToUsers(
      [4, 5].flatMap((i) =>
        users.map((u) => ({
          userId: u,
          dedupeId: `e${i}`,
          notification: note(u, i),
        })),
      ),
    )
    assert.ok(
      many.every((o) => o.status === 'delivered'),
      String((many.find((o) => o.status === 'failed') as { error?: unknown } | undefined)?.error),
    )
    await waitFor(() => users.every((u) => got.get(u)!.length === 5), { message: 'all live messages' })
    for (const u of users) {
      assert.deepEqual(got.get(u), [1, 2, 3, 4, 5])
      const read = await store.readInbox(u, {})
      assert.equal(read.frames.length, 5)
    }
    // the users really are spread over several shards
    const owners = new Set<string>()
    for (const u of users) {
      const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', userStateKey(u)))
      owners.add(String((redis as Cluster).slots[slot]?.[0]))
    }
    assert.ok(owners.size > 1, `all users on one shard: ${[...owners]}`)
  } finally {
    redis.disconnect()
    sub.disconnect()
  }
}
