/** One session's presence entry. */
export interface PresenceEntry {
  userId: string
  sessionId: string
}

/**
 * Who is connected, across all gateway pods: admission against the per-user session limit,
 * and the answer to "is this borrower online". A session's entry lives `ttlMs` unless its pod
 * refreshes it (every heartbeat), so the sessions of a crashed pod vanish by themselves.
 * Implementations: Redis (presence-redis.ts), in memory for one process (presence-memory.ts).
 */
export interface PresenceStore {
  /** Records the session unless the user already has `maxSessions` live ones. */
  join(userId: string, sessionId: string, maxSessions: number): Promise<boolean>
  /**
   * Extends the entries of many sessions at once (a slice of the heartbeat sweep: one script call
   * per Redis node, not one per session). An entry that vanished is not re-added.
   */
  refreshMany(entries: readonly PresenceEntry[]): Promise<void>
  leave(userId: string, sessionId: string): Promise<void>
  count(userId: string): Promise<number>
}

export function validatePresenceTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000) throw new RangeError('presence ttlMs must be >= 1000')
}
