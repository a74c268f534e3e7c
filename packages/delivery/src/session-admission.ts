import { type InboxRead, lastIdInFrame, nextEpochCandidate, type ResumePoint } from './inbox.ts'
import type { InboxReader } from './inbox-reader.ts'
import { readFromScript } from './inbox-reader-redis.ts'
import { userInboxKey, userPresenceKey, userRevokedKey, userStateKey } from './keys.ts'
import { LuaScript } from './lua-script.ts'
import { type PresenceStore, validatePresenceTtl } from './presence.ts'
import type { RedisClient } from './redis-client.ts'
import type { RevocationStore } from './revocation.ts'
import { ADMIT_SESSION } from './scripts-connect.ts'

/** What a new session learns once its user's channel is subscribed. */
export type Admission =
  | { admitted: false }
  | { admitted: true; read: InboxRead; revokedAt: number | undefined }

/**
 * The gateway's connect path after the SSUBSCRIBE: presence join against the per-user limit, the
 * revocation time in force and the first inbox read, in one step. In Redis one script (the keys
 * share the user's hash tag): one command per connect instead of three, which is most of what a
 * connect costs the gateway beyond the floor (issue 11).
 */
export interface SessionAdmission {
  admit(userId: string, sessionId: string, maxSessions: number, from: ResumePoint): Promise<Admission>
}

const admitScript = new LuaScript<[0] | [1, string, string, number, number, number, string[], number]>(
  ADMIT_SESSION,
  4,
)

export function createSessionAdmission(
  redis: RedisClient,
  opts: { presenceTtlMs: number; stateTtlSeconds: number },
): SessionAdmission {
  validatePresenceTtl(opts.presenceTtlMs)
  const { presenceTtlMs, stateTtlSeconds } = opts
  if (!Number.isSafeInteger(stateTtlSeconds) || stateTtlSeconds < 1) {
    throw new RangeError(`stateTtlSeconds must be a positive integer, got ${stateTtlSeconds}`)
  }
  return {
    async admit(userId, sessionId, maxSessions, from) {
      const lastSeq = from.lastSeq ?? 0
      const r = await admitScript.run(
        redis,
        userPresenceKey(userId),
        userRevokedKey(userId),
        userStateKey(userId),
        userInboxKey(userId),
        sessionId,
        presenceTtlMs,
        maxSessions,
        nextEpochCandidate(),
        lastSeq,
        from.epoch ?? '',
        stateTtlSeconds,
        lastIdInFrame(from),
      )
      if (r[0] === 0) return { admitted: false }
      const [, revoked, epoch, seq, acked, firstSeq, entries, regressed] = r
      return {
        admitted: true,
        read: readFromScript(from, epoch, seq, acked, firstSeq, entries, regressed),
        revokedAt: revoked === '' ? undefined : Number(revoked),
      }
    },
  }
}

/** The same steps one after another, on any stores (the in-memory ones of unit tests). */
export function sequentialSessionAdmission(
  presence: PresenceStore,
  reader: InboxReader,
  revocations: RevocationStore,
): SessionAdmission {
  return {
    async admit(userId, sessionId, maxSessions, from) {
      if (!(await presence.join(userId, sessionId, maxSessions))) return { admitted: false }
      try {
        const [read, revokedAt] = await Promise.all([
          reader.readInbox(userId, from),
          revocations.revokedAt(userId),
        ])
        return { admitted: true, read, revokedAt }
      } catch (err) {
        // not admitted after all: the entry must not count against the user until it expires
        await presence.leave(userId, sessionId).catch(() => {})
        throw err
      }
    },
  }
}
