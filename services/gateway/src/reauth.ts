import { CloseCode } from '@tidings/contracts'
import { isRevoked } from '@tidings/delivery'
import { AuthError, type Principal } from './auth/token-verifier.ts'
import { authenticatedFrame, topicReplyFrame } from './frames.ts'
import type { Session } from './session.ts'

/**
 * An `auth` frame on a live session: a fresh token of the same user, not revoked, extends it;
 * topics the new token no longer allows are left. Runs on the session's `inbound` chain.
 */
export async function reauthenticate(s: Session, token: string): Promise<void> {
  let p: Principal
  try {
    p = await s.pod.verifier.verify(token)
  } catch (err) {
    // a key server outage says nothing about the token: the app should retry, not log out
    if (err instanceof AuthError && err.code === 'auth_unavailable') {
      return s.close(CloseCode.TryAgainLater, 'token could not be checked now')
    }
    return s.close(CloseCode.Unauthorized, 'invalid token')
  }
  if (p.userId !== s.userId) return s.close(CloseCode.Unauthorized, 'token is for another user')
  if (isRevoked(p.issuedAt, await s.pod.revocations.revokedAt(s.userId))) {
    return s.close(CloseCode.Revoked, 'sessions revoked')
  }
  if (s.closed) return
  s.expiresAt = p.expiresAt
  s.issuedAt = p.issuedAt
  s.allowedTopics = p.topics
  s.warned = false
  // topics the new token no longer allows are left
  if (s.topics) {
    for (const t of s.topics) {
      if (!p.topics.includes(t)) {
        s.topics.delete(t)
        s.pod.router.leaveTopic(t, s.onBroadcast)
        s.control('unsubscribed', topicReplyFrame('unsubscribed', t))
      }
    }
  }
  if (s.closed) return
  s.pod.deadlines.schedule(s)
  s.control('authenticated', authenticatedFrame(p.expiresAt))
}
