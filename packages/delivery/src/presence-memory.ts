import { type PresenceStore, validatePresenceTtl } from './presence.ts'

/**
 * Presence held by one process (unit tests, a single-process development gateway): the same
 * rules as Redis (presence-redis.ts): an entry expires `ttlMs` after its last join/refresh, a
 * refresh never re-adds a vanished entry. `now` is injectable for a fake clock.
 */
export function createMemoryPresenceStore(
  opts: { ttlMs: number },
  now: () => number = Date.now,
): PresenceStore & { readonly refreshes: number } {
  validatePresenceTtl(opts.ttlMs)
  const users = new Map<string, Map<string, number>>()
  let refreshes = 0
  const live = (userId: string): Map<string, number> | undefined => {
    const sessions = users.get(userId)
    if (!sessions) return undefined
    const t = now()
    for (const [id, expiry] of sessions) if (expiry <= t) sessions.delete(id)
    if (sessions.size === 0) users.delete(userId)
    return sessions.size > 0 ? sessions : undefined
  }
  const refresh = (userId: string, sessionId: string): void => {
    const sessions = live(userId)
    refreshes++
    if (sessions?.has(sessionId)) sessions.set(sessionId, now() + opts.ttlMs)
  }
  return {
    async join(userId, sessionId, maxSessions) {
      const sessions = live(userId) ?? new Map<string, number>()
      if (!sessions.has(sessionId) && sessions.size >= maxSessions) return false
      sessions.set(sessionId, now() + opts.ttlMs)
      users.set(userId, sessions)
      return true
    },
    async refreshMany(entries) {
      for (const e of entries) refresh(e.userId, e.sessionId)
    },
    async leave(userId, sessionId) {
      live(userId)?.delete(sessionId)
    },
    async count(userId) {
      return live(userId)?.size ?? 0
    },
    /** Entries refreshed so far: what a test of the heartbeat sweep counts. */
    get refreshes() {
      return refreshes
    },
  }
}
