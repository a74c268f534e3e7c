// Scenarios shared by this package's tests on a single Redis and on a Redis Cluster.
import assert from 'node:assert/strict'
import { uniqueName } from '@tidings/test/infra'
import { userPresenceKey } from './keys.ts'
import { createPresenceStore } from './presence-redis.ts'
import type { RedisClient } from './redis-client.ts'

/**
 * presence refreshMany, on a single Redis and on a Cluster (where the users sit on every shard). Entries are
 * first made stale (score 1, a long key TTL) so that a refresh is visible without waiting.
 */
export async function exerciseRefreshMany(redis: RedisClient): Promise<void> {
  const ttlMs = 60_000
  const presence = createPresenceStore(redis, { ttlMs })
  const users = Array.from({ length: 12 }, () => uniqueName('u'))
  for (const u of users) {
    assert.equal(await presence.join(u, 's1', 5), true)
    assert.equal(await presence.join(u, 'left', 5), true)
    await presence.leave(u, 'left')
    await redis.zadd(userPresenceKey(u), 'XX', 1, 's1')
    await redis.pexpire(userPresenceKey(u), 10 * ttlMs)
  }
  const before = Date.now()
  await presence.refreshMany(
    users.flatMap((u) => [
      { userId: u, sessionId: 's1' },
      { userId: u, sessionId: 'left' },
    ]),
  )
  for (const u of users) {
    const key = userPresenceKey(u)
    assert.ok(Number(await redis.zscore(key, 's1')) > before, `${u}: s1 refreshed`)
    assert.equal(await redis.zscore(key, 'left'), null, `${u}: a session that left is not re-added`)
    assert.ok((await redis.pttl(key)) <= ttlMs, `${u}: the key's TTL follows the entry`)
  }
  await presence.refreshMany([])
}
