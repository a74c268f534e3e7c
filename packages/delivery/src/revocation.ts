import { userChannel, userRevokedKey } from './keys.ts'
import { REVOKED_HEAD } from './live-message.ts'
import { LuaScript } from './lua-script.ts'
import type { RedisClient } from './redis-client.ts'
import { REVOKE_USER } from './scripts.ts'

/**
 * Ends a user's sessions now (logout, account locked), on every pod: the revocation time is
 * kept `ttlSeconds` (the longest a token can live: any token issued before it has expired by
 * then), and a message on the user's own channel reaches the pods that hold the user's sessions.
 */
export interface RevocationStore {
  /** Records "tokens issued until now are revoked" and notifies the pods; resolves with that time (ms). */
  revoke(userId: string): Promise<number>
  /** The revocation time in force (ms), or undefined. */
  revokedAt(userId: string): Promise<number | undefined>
}

/** KEYS: revoked. ARGV: ttl, channel, message head. */
const revokeScript = new LuaScript<number>(REVOKE_USER, 1)

export function createRevocationStore(redis: RedisClient, opts: { ttlSeconds: number }): RevocationStore {
  if (!Number.isSafeInteger(opts.ttlSeconds) || opts.ttlSeconds < 1)
    throw new RangeError('revocation ttlSeconds must be >= 1')
  return {
    async revoke(userId) {
      return Number(
        await revokeScript.run(
          redis,
          userRevokedKey(userId),
          opts.ttlSeconds,
          userChannel(userId),
          REVOKED_HEAD,
        ),
      )
    },
    async revokedAt(userId) {
      const v = await redis.get(userRevokedKey(userId))
      return v === null ? undefined : Number(v)
    },
  }
}

/**
 * Whether a token issued at `issuedAtMs` is revoked by a revocation at `revokedAtMs`. `iat` has
 * second precision, so a token issued in the same second as the revocation is refused too; a
 * token without `iat` is refused once its user has any revocation.
 */
export function isRevoked(issuedAtMs: number | undefined, revokedAtMs: number | undefined): boolean {
  if (revokedAtMs === undefined) return false
  if (issuedAtMs === undefined) return true
  return Math.floor(issuedAtMs / 1000) <= Math.floor(revokedAtMs / 1000)
}
