import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type RedisCluster, startRedisCluster, uniqueName } from '@tidings/test/infra'
import calculateSlot from 'cluster-key-slot'
import { type Cluster, Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { userPresenceKey } from './keys.ts'
import { createPresenceStore } from './presence-redis.ts'

// Resharding: a slot moves to another primary while a pod's slot map still says the old one. The
// heartbeat groups a slice's entries by that stale map, so one script call meets a key its node no
// longer serves; the other users of the call must be refreshed all the same, and the moved one too.
let cluster: RedisCluster
before(async () => {
  cluster = await startRedisCluster()
})
after(() => cluster?.stop())

test('presence refreshMany after a slot moved to another primary: every entry is refreshed', () =>
  refreshAfterMove(1))

test('the same when the key that routes the call is the one that moved (MOVED, then run elsewhere)', () =>
  refreshAfterMove(0))

test('the same while the slot is still migrating (ASK)', () => refreshAfterMove(1, { midMigration: true }))

async function refreshAfterMove(movedIndex: number, opts: { midMigration?: boolean } = {}): Promise<void> {
  const redis = createRedisConnection({ clusterNodes: cluster.nodes }, { name: 'reshard-test' }) as Cluster
  const admin = cluster.nodes.map((n) => new Redis({ host: n.host, port: n.port, lazyConnect: false }))
  try {
    const ttlMs = 60_000
    const presence = createPresenceStore(redis, { ttlMs })
    await redis.ping() // the slot map is loaded
    const nodeOf = (userId: string) => redis.slots[calculateSlot(userPresenceKey(userId))]![0]!
    // three users on one primary, each in a slot of its own; the middle one's slot will move
    const users: string[] = []
    while (users.length < 3) {
      const u = uniqueName('u')
      const slots = users.map((x) => calculateSlot(userPresenceKey(x)))
      if (users.length > 0 && nodeOf(u) !== nodeOf(users[0]!)) continue
      if (slots.includes(calculateSlot(userPresenceKey(u)))) continue
      users.push(u)
    }
    for (const u of users) {
      assert.equal(await presence.join(u, 's1', 5), true)
      // stale (score 1, a long key TTL) so that a refresh is visible without waiting
      await redis.zadd(userPresenceKey(u), 'XX', 1, 's1')
      await redis.pexpire(userPresenceKey(u), 10 * ttlMs)
    }

    const moved = users[movedIndex]!
    const key = userPresenceKey(moved)
    const slot = calculateSlot(key)
    const ids = await Promise.all(admin.map((a) => a.call('CLUSTER', 'MYID') as Promise<string>))
    const ports = cluster.nodes.map((n) => String(n.port))
    const from = ports.indexOf(nodeOf(moved).split(':').pop()!)
    const to = (from + 1) % admin.length
    // CLUSTER SETSLOT … IMPORTING / MIGRATING, MIGRATE, then NODE everywhere (redis-cli --cluster reshard)
    await admin[to]!.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[from]!)
    await admin[from]!.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[to]!)
    await admin[from]!.call(
      'MIGRATE',
      cluster.nodes[to]!.host,
      cluster.nodes[to]!.port,
      '',
      0,
      5000,
      'KEYS',
      key,
    )
    const finishMigration = async () => {
      for (const a of admin) await a.call('CLUSTER', 'SETSLOT', slot, 'NODE', ids[to]!)
    }
    if (!opts.midMigration) await finishMigration()
    assert.equal(
      nodeOf(moved),
      `${cluster.nodes[from]!.host}:${cluster.nodes[from]!.port}`,
      'the map is stale',
    )

    const before = Date.now()
    await presence.refreshMany(users.map((u) => ({ userId: u, sessionId: 's1' })))
    for (const u of users) {
      assert.ok(Number(await redis.zscore(userPresenceKey(u), 's1')) > before, `${u} refreshed`)
    }
    if (opts.midMigration) await finishMigration()
  } finally {
    for (const a of admin) a.disconnect()
    redis.disconnect()
  }
}
