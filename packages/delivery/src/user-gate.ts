import { userRateLimitKey, userRevokedKey } from './keys.ts'
import type { RedisClient } from './redis-client.ts'
import { USER_GATE } from './scripts-connect.ts'

/** What a handshake learns about its user in one Redis command. */
export interface UserGateResult {
  /** The revocation time in force (ms), or undefined. */
  revokedAt: number | undefined
  /** Requests of this user counted in the current window, this one included. */
  count: number
  /** Until the window ends. */
  msBeforeNext: number
}

/**
 * The gateway's per-user checks of a request (revocation, then the per-user rate limit), as one
 * script: one round trip per handshake instead of two (issue 11). Fixed windows of `windowSeconds`,
 * one counter per user and `name`.
 */
export interface UserGate {
  /** `issuedAtMs`: the token's `iat` (ms); a request its revocation refuses is not counted (count 0). */
  check(
    userId: string,
    name: string,
    windowSeconds: number,
    issuedAtMs: number | undefined,
  ): Promise<UserGateResult>
}

interface Scripted {
  tdgUserGate(
    revokedKey: string,
    limitKey: string,
    windowSeconds: number,
    issuedAtS: number | string,
  ): Promise<[string, number, number]>
}

export function createUserGate(redis: RedisClient): UserGate {
  redis.defineCommand('tdgUserGate', { numberOfKeys: 2, lua: USER_GATE })
  const s = redis as unknown as Scripted
  return {
    async check(userId, name, windowSeconds, issuedAtMs) {
      const [revoked, count, ttl] = await s.tdgUserGate(
        userRevokedKey(userId),
        userRateLimitKey(userId, name),
        windowSeconds,
        issuedAtMs === undefined ? '' : Math.floor(issuedAtMs / 1000),
      )
      return { revokedAt: revoked === '' ? undefined : Number(revoked), count, msBeforeNext: ttl }
    },
  }
}
