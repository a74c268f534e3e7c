import { isRevoked } from '@tidings/delivery'
import { AuthError, type Principal } from './auth/token-verifier.ts'
import { Closes, type SessionClose } from './close-reasons.ts'
import type { PodContext } from './pod.ts'

export type ReauthOutcome = { ok: true; principal: Principal } | { ok: false; close: SessionClose }

/**
 * Checks the token of an `auth` frame on a live session: a fresh token of the same user, not
 * revoked. The session applies a good one (session.ts); a bad one ends it with `code`.
 */
export async function checkReauth(pod: PodContext, userId: string, token: string): Promise<ReauthOutcome> {
  let p: Principal
  try {
    p = await pod.verifier.verify(token)
  } catch (err) {
    // a key server outage says nothing about the token: the app should retry, not log out
    if (err instanceof AuthError && err.code === 'auth_unavailable') {
      return { ok: false, close: Closes.TokenUncheckable }
    }
    return { ok: false, close: Closes.InvalidToken }
  }
  if (p.userId !== userId) return { ok: false, close: Closes.OtherUser }
  if (isRevoked(p.issuedAt, await pod.revocations.revokedAt(userId))) {
    return { ok: false, close: Closes.Revoked }
  }
  return { ok: true, principal: p }
}
