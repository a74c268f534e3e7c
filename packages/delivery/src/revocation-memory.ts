import type { RevocationStore } from './revocation.ts'
import type { MemoryRouter } from './router-memory.ts'

/**
 * Revocations of one process (unit tests, a single-process development gateway): like the revoke
 * script, the time never moves back and the user's listeners on `router` are told.
 */
export function createMemoryRevocationStore(
  router?: MemoryRouter,
  now: () => number = Date.now,
): RevocationStore {
  const revoked = new Map<string, number>()
  return {
    async revoke(userId) {
      const at = Math.max(revoked.get(userId) ?? 0, now())
      revoked.set(userId, at)
      router?.publishToUser(userId, {
        epoch: '',
        seq: -1,
        frame: Buffer.alloc(0),
        meta: undefined,
        revokedBefore: at,
      })
      return at
    },
    async revokedAt(userId) {
      return revoked.get(userId)
    },
  }
}
