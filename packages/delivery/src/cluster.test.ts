import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type RedisCluster, startRedisCluster, uniqueName, waitFor } from '@tidings/test/infra'
import type { Cluster } from 'ioredis'
import { createRedisConnection, type RedisTarget } from './connection.ts'
import { userStateKey } from './keys.ts'
import type { LiveNotification } from './live-message.ts'
import { DEFAULT_RETENTION } from './options.ts'
import { createChannelRouter } from './router.ts'
import { createDeliveryStore } from './store.ts'

// The same scripts and sharded pub/sub on a 3-primary Redis Cluster: every key and channel of a
// user hashes to one slot, so each script runs on the shard that owns the user.
let cluster: RedisCluster
before(async () => {
  cluster = await startRedisCluster()
})
after(() => cluster.stop())

test('delivery, replay and live routing work on a Redis Cluster for users on every shard', async () => {
  const target: RedisTarget = { clusterNodes: cluster.nodes }
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
    await Promise.all(
      users.flatMap((u) =>
        [1, 2, 3].map((i) =>
          store.deliverToUser(u, `e${i}`, {
            id: `${u}-${i}`,
            kind: 'k',
            createdAt: '2026-11-24T10:00:00.000Z',
            title: 't',
            body: 'b',
            data: {},
          }),
        ),
      ),
    )
    await waitFor(() => users.every((u) => got.get(u)!.length === 3), { message: 'all live messages' })
    for (const u of users) {
      assert.deepEqual(got.get(u), [1, 2, 3])
      const read = await store.readInbox(u, {})
      assert.equal(read.frames.length, 3)
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
})
