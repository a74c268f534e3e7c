import { isRevoked } from '@tidings/delivery'
import { extractToken, isOriginAllowed, type RequestHeaders } from './auth/handshake.ts'
import { AuthError, authErrorStatus, type Principal } from './auth/token-verifier.ts'
import {
  AUTH_UNAVAILABLE,
  DRAINING,
  ORIGIN_FORBIDDEN,
  RATE_LIMITED,
  TOKEN_EXPIRED,
  TOKEN_INVALID,
  TOKEN_MISSING,
  TOKEN_REVOKED,
  TRY_AGAIN_LATER,
} from './errors.ts'
import type { PodContext } from './pod.ts'
import type { RateLimitKind } from './rate-limit.ts'

/**
 * What the checks read of a request: a Fastify request fits, and so does the WebSocket upgrade,
 * which is answered before Fastify sees it (ws-upgrade.ts).
 */
export interface AuthRequest {
  readonly headers: RequestHeaders
  /** The client's address, through the trusted proxy hops (TRUST_PROXY_HOPS). */
  readonly ip: string
  readonly query?: unknown
}

/** Where a refusal's headers go (`retry-after`): a Fastify reply fits. */
export interface ResponseHeaders {
  header(name: string, value: string): unknown
}

export interface AuthenticateOptions {
  /** Which rate limits the request counts against (per IP before the token, per user after). */
  limit: RateLimitKind
  /** EventSource cannot set headers: `/v1/sse` also takes `?access_token=` (never logged). */
  queryToken?: boolean
}

/** A key server outage is logged at most this often: every refused handshake would flood the log. */
const UNAVAILABLE_LOG_INTERVAL_MS = 10_000

/**
 * The checks every user-facing endpoint makes, in the protocol's order (docs/protocol.md §11.3):
 * draining (503), Origin allow-list (403), rate limit per IP (429), then the token (401; 503 when
 * the key server cannot be reached), revocation (401), rate limit per user (429).
 */
export function createRequestAuthenticator(pod: PodContext, isDraining: () => boolean) {
  const { metrics } = pod
  let unavailableLoggedAt = 0
  let unavailableSince = 0
  let redisLoggedAt = 0
  return async function authenticate(
    req: AuthRequest,
    reply: ResponseHeaders,
    opts: AuthenticateOptions,
  ): Promise<Principal> {
    if (isDraining()) {
      metrics.refused.inc({ reason: 'draining' })
      throw new DRAINING()
    }
    const origin = req.headers.origin as string | undefined
    if (!isOriginAllowed(origin, pod.config.auth.allowedOrigins)) {
      metrics.refused.inc({ reason: 'origin' })
      throw new ORIGIN_FORBIDDEN(String(origin))
    }
    await countAgainst(() => pod.rateLimiter.checkIp(opts.limit, req.ip, reply))
    let token = extractToken(req.headers)?.token
    if (!token && opts.queryToken) {
      const q = (req.query as { access_token?: unknown } | undefined)?.access_token
      if (typeof q === 'string' && q !== '') token = q
    }
    if (!token) {
      metrics.refused.inc({ reason: 'token_missing' })
      throw new TOKEN_MISSING()
    }
    let principal: Principal
    try {
      principal = await pod.verifier.verify(token)
    } catch (err) {
      if (!(err instanceof AuthError)) throw err
      if (authErrorStatus(err) === 503) {
        metrics.refused.inc({ reason: 'auth_unavailable' })
        const now = Date.now()
        if (unavailableSince === 0) unavailableSince = now
        if (now - unavailableLoggedAt >= UNAVAILABLE_LOG_INTERVAL_MS) {
          unavailableLoggedAt = now
          pod.log.error(
            { err: err.cause ?? err, sinceMs: now - unavailableSince },
            'signing keys unavailable (JWKS): refusing handshakes with 503',
          )
        }
        throw new AUTH_UNAVAILABLE()
      }
      metrics.refused.inc({ reason: err.code === 'token_expired' ? 'token_expired' : 'token_invalid' })
      throw err.code === 'token_expired' ? new TOKEN_EXPIRED() : new TOKEN_INVALID(err.message)
    }
    unavailableSince = 0
    // revocation and per-user limit in one Redis command (rate-limit.ts); revoked wins over limited
    const user = await checkUser(opts.limit, principal)
    if (isRevoked(principal.issuedAt, user.revokedAt)) {
      metrics.refused.inc({ reason: 'revoked' })
      throw new TOKEN_REVOKED()
    }
    if (user.retryAfterS !== undefined) {
      metrics.refused.inc({ reason: 'rate_limited' })
      reply.header('retry-after', String(user.retryAfterS))
      throw new RATE_LIMITED()
    }
    return principal
  }

  // Redis unreachable: the revocation cannot be checked, so the request is refused — with 503, which
  // clients retry, and one log line per interval rather than one per handshake during an outage.
  async function checkUser(kind: RateLimitKind, principal: Principal) {
    try {
      return await pod.rateLimiter.checkUser(kind, principal.userId, principal.issuedAt)
    } catch (err) {
      metrics.refused.inc({ reason: 'redis_unavailable' })
      const now = Date.now()
      if (now - redisLoggedAt >= UNAVAILABLE_LOG_INTERVAL_MS) {
        redisLoggedAt = now
        pod.log.error({ err }, 'Redis unavailable: refusing handshakes with 503')
      }
      throw new TRY_AGAIN_LATER('Redis unavailable')
    }
  }

  async function countAgainst(check: () => Promise<void>): Promise<void> {
    try {
      await check()
    } catch (err) {
      metrics.refused.inc({ reason: 'rate_limited' })
      throw err
    }
  }
}

export type RequestAuthenticator = ReturnType<typeof createRequestAuthenticator>
