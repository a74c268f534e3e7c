import type { FastifyRequest } from 'fastify'
import { extractToken, isOriginAllowed } from './auth/handshake.ts'
import { AuthError, authErrorStatus, type Principal } from './auth/token-verifier.ts'
import {
  AUTH_UNAVAILABLE,
  DRAINING,
  ORIGIN_FORBIDDEN,
  TOKEN_EXPIRED,
  TOKEN_INVALID,
  TOKEN_MISSING,
} from './errors.ts'
import type { PodContext } from './pod.ts'

export interface AuthenticateOptions {
  /** EventSource cannot set headers: `/v1/sse` also takes `?access_token=` (never logged). */
  queryToken?: boolean
}

/**
 * The checks every user-facing endpoint makes, in the protocol's order: draining (503), Origin
 * allow-list (403), then the token (401; 503 when the key server cannot be reached).
 */
export function createRequestAuthenticator(pod: PodContext, isDraining: () => boolean) {
  const { metrics } = pod
  return async function authenticate(
    req: FastifyRequest,
    opts: AuthenticateOptions = {},
  ): Promise<Principal> {
    if (isDraining()) {
      metrics.refused.inc({ reason: 'draining' })
      throw new DRAINING()
    }
    const origin = req.headers.origin
    if (!isOriginAllowed(origin, pod.config.auth.allowedOrigins)) {
      metrics.refused.inc({ reason: 'origin' })
      throw new ORIGIN_FORBIDDEN(String(origin))
    }
    let token = extractToken(req.headers)?.token
    if (!token && opts.queryToken) {
      const q = (req.query as { access_token?: unknown }).access_token
      if (typeof q === 'string' && q !== '') token = q
    }
    if (!token) {
      metrics.refused.inc({ reason: 'token_missing' })
      throw new TOKEN_MISSING()
    }
    try {
      return await pod.verifier.verify(token)
    } catch (err) {
      if (!(err instanceof AuthError)) throw err
      metrics.refused.inc({ reason: err.code === 'token_expired' ? 'token_expired' : 'token_invalid' })
      if (authErrorStatus(err) === 503) throw new AUTH_UNAVAILABLE()
      throw err.code === 'token_expired' ? new TOKEN_EXPIRED() : new TOKEN_INVALID(err.message)
    }
  }
}

export type RequestAuthenticator = ReturnType<typeof createRequestAuthenticator>
