import { userPresenceKey } from './keys.ts'
import type { RedisClient } from './redis-client.ts'
import { PRESENCE_COUNT, PRESENCE_JOIN, PRESENCE_REFRESH } from './scripts.ts'

/**
 * Who is connected, across all gateway pods: admission against the per-user session limit,
 * and the answer to "is this borrower online". A session's entry lives `ttlMs` unless its pod
 * refreshes it (every heartbeat), so the sessions of a crashed pod vanish by themselves.
 */
export interface PresenceStore {
  /** Records the session unless the user already has `maxSessions` live ones. */
  join(userId: string, sessionId: string, maxSessions: number): Promise<boolean>
  refresh(userId: string, sessionId: string): Promise<void>
  leave(userId: string, sessionId: string): Promise<void>
  count(userId: string): Promise<number>
}

interface Scripted {
  tdgPresenceJoin(key: string, member: string, ttlMs: number, max: number): Promise<number>
  tdgPresenceRefresh(key: string, member: string, ttlMs: number): Promise<number>
  tdgPresenceCount(key: string): Promise<number>
}

export function createPresenceStore(redis: RedisClient, opts: { ttlMs: number }): PresenceStore {
  if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs < 1000)
    throw new RangeError('presence ttlMs must be >= 1000')
  redis.defineCommand('tdgPresenceJoin', { numberOfKeys: 1, lua: PRESENCE_JOIN })
  redis.defineCommand('tdgPresenceRefresh', { numberOfKeys: 1, lua: PRESENCE_REFRESH })
  redis.defineCommand('tdgPresenceCount', { numberOfKeys: 1, lua: PRESENCE_COUNT })
  const s = redis as unknown as Scripted
  const { ttlMs } = opts
  return {
    async join(userId, sessionId, maxSessions) {
      return (await s.tdgPresenceJoin(userPresenceKey(userId), sessionId, ttlMs, maxSessions)) === 1
    },
    async refresh(userId, sessionId) {
      await s.tdgPresenceRefresh(userPresenceKey(userId), sessionId, ttlMs)
    },
    async leave(userId, sessionId) {
      await redis.zrem(userPresenceKey(userId), sessionId)
    },
    count(userId) {
      return s.tdgPresenceCount(userPresenceKey(userId))
    },
  }
}
