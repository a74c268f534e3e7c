import { userRateLimitKey, userRevokedKey } from './keys.ts'
import { LuaScript } from './lua-script.ts'
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

/** KEYS: revoked, rate limit. ARGV: windowSeconds, issuedAt (s, or ''). */
const userGateScript = new LuaScript<[string, number, number]>(USER_GATE, 2)

export function createUserGate(redis: RedisClient): UserGate {
  return {
    async check(userId, name, windowSeconds, issuedAtMs) {
      const [revoked, count, ttl] = await userGateScript.run(
        redis,
        userRevokedKey(userId),
        userRateLimitKey(userId, name),
        windowSeconds,
        issuedAtMs === undefined ? '' : Math.floor(issuedAtMs / 1000),
      )
      return { revokedAt: revoked === '' ? undefined : Number(revoked), count, msBeforeNext: ttl }
    },
  }
}
