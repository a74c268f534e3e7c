/// <reference path="./cluster-key-slot.d.ts" />
import calculateSlot from 'cluster-key-slot'
import { Cluster } from 'ioredis'
import { userPresenceKey } from './keys.ts'
import { LuaScript } from './lua-script.ts'
import { type PresenceEntry, type PresenceStore, validatePresenceTtl } from './presence.ts'
import type { RedisClient } from './redis-client.ts'
import { PRESENCE_COUNT, PRESENCE_JOIN, PRESENCE_REFRESH_MANY } from './scripts.ts'

/** Keys per refreshMany script call: each call is one atomic step, and Redis serves no one else meanwhile. */
const REFRESH_BATCH = 256

/** KEYS: presence. ARGV: member, ttlMs, max. */
const joinScript = new LuaScript<number>(PRESENCE_JOIN, 1)
/** KEYS: a routing key. ARGV: ttlMs, key, member, key, member… */
const refreshManyScript = new LuaScript<number[]>(PRESENCE_REFRESH_MANY, 1)
const countScript = new LuaScript<number>(PRESENCE_COUNT, 1)

/** Presence in Redis: a sorted set per user (keys.ts), scored by expiry on Redis's clock (scripts.ts). */
export function createPresenceStore(redis: RedisClient, opts: { ttlMs: number }): PresenceStore {
  validatePresenceTtl(opts.ttlMs)
  const { ttlMs } = opts

  const refreshBatch = async (batch: readonly PresenceEntry[]): Promise<void> => {
    const pairs: string[] = []
    for (const e of batch) pairs.push(userPresenceKey(e.userId), e.sessionId)
    const elsewhere = await refreshManyScript.run(redis, pairs[0]!, ttlMs, ...pairs)
    // Keys of a slot that moved (resharding): a script error is no redirection, so ioredis would
    // keep its stale map and the same keys would fail every heartbeat until their entries expired.
    // One call each, routed by its own key: ioredis follows MOVED/ASK and updates its map.
    await Promise.all(
      elsewhere.map((i) => {
        const key = pairs[2 * i]!
        return refreshManyScript.run(redis, key, ttlMs, key, pairs[2 * i + 1]!)
      }),
    )
  }

  return {
    async join(userId, sessionId, maxSessions) {
      return (await joinScript.run(redis, userPresenceKey(userId), sessionId, ttlMs, maxSessions)) === 1
    },
    async refreshMany(entries) {
      const calls: Array<Promise<void>> = []
      for (const group of groupByNode(redis, entries)) {
        for (let i = 0; i < group.length; i += REFRESH_BATCH) {
          calls.push(refreshBatch(group.slice(i, i + REFRESH_BATCH)))
        }
      }
      await Promise.all(calls)
    },
    async leave(userId, sessionId) {
      await redis.zrem(userPresenceKey(userId), sessionId)
    },
    count(userId) {
      return countScript.run(redis, userPresenceKey(userId))
    },
  }
}

/**
 * A script may only touch keys its node serves. One Redis: a single group. A Cluster: one group
 * per primary, from ioredis's slot map (users are spread over the slots by their hash tag); a
 * slot not mapped yet is a group of its own, so a stale map costs a redirection, never an error
 * for other users.
 */
function groupByNode(redis: RedisClient, entries: readonly PresenceEntry[]): PresenceEntry[][] {
  if (!(redis instanceof Cluster)) return entries.length > 0 ? [[...entries]] : []
  const groups = new Map<string, PresenceEntry[]>()
  for (const e of entries) {
    const slot = calculateSlot(userPresenceKey(e.userId))
    const node = redis.slots[slot]?.[0] ?? `slot:${slot}`
    const group = groups.get(node)
    if (group) group.push(e)
    else groups.set(node, [e])
  }
  return [...groups.values()]
}
