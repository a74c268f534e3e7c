import { isUserId } from '@tidings/contracts'
import type { FastifyInstance } from 'fastify'
import { extractServiceToken, verifyServiceToken } from './auth/handshake.ts'
import { BAD_USER_ID, SERVICE_TOKEN_INVALID } from './errors.ts'
import type { PodContext } from './pod.ts'

/**
 * For backend services (service credential, like presence): end a borrower's sessions now
 * (logout, account locked). Every pod holding one of the user's WebSockets or SSE streams
 * closes it with 4003 (the revoke script publishes on the user's channel), and tokens issued
 * until now are refused on later connects (401 TDG_ERR_TOKEN_REVOKED), so the app cannot just
 * reconnect with the old token. Idempotent: a second call moves the time forward.
 */
export function registerRevocationRoute(app: FastifyInstance, pod: PodContext): void {
  app.post<{ Params: { userId: string } }>('/v1/users/:userId/revoke', async (req) => {
    if (!verifyServiceToken(extractServiceToken(req.headers), pod.config.auth.serviceTokenDigests)) {
      throw new SERVICE_TOKEN_INVALID()
    }
    if (!isUserId(req.params.userId)) throw new BAD_USER_ID()
    const revokedAt = await pod.revocations.revoke(req.params.userId)
    pod.log.info({ revokedAt }, 'user sessions revoked')
    return { revokedAt: new Date(revokedAt).toISOString() }
  })
}
