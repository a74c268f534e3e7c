import { createUserGate, RATE_LIMIT_KEY_PREFIX, type RedisClient } from '@tidings/delivery'
import type { Logger } from '@tidings/runtime'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import type { GatewayConfig } from './config.ts'
import { RATE_LIMITED } from './errors.ts'
import type { ResponseHeaders } from './request-auth.ts'

/** What a limit counts: REST inbox calls, or new connections (WebSocket upgrades, SSE streams). */
export type RateLimitKind = 'http' | 'connect'

export interface RequestRateLimiter {
  /** Before authentication: the client IP. Throws 429 (with Retry-After set) past the limit. */
  checkIp(kind: RateLimitKind, ip: string, reply: ResponseHeaders): Promise<void>
  /**
   * After authentication: the user's revocation time and the user's limit (counted on every pod),
   * in one Redis command. Rejects when Redis cannot answer; `retryAfterS` is set past the limit
   * (the caller refuses a revoked token first, then a limited one).
   */
  checkUser(
    kind: RateLimitKind,
    userId: string,
    issuedAtMs: number | undefined,
  ): Promise<{ revokedAt: number | undefined; retryAfterS: number | undefined }>
}

const WINDOW_S = 60

/**
 * Limits per user and per IP shared by every pod, in Redis, fixed one-minute windows. Per IP:
 * rate-limiter-flexible (one atomic INCR+EXPIRE script per check, keys under the prefix defined in
 * @tidings/delivery); while Redis is unreachable each pod falls back to the same limit in memory
 * (the library's insurance limiter) rather than letting everything through or nothing. Per user:
 * the same window counted by @tidings/delivery's user gate, in the script that also reads the
 * user's revocation (one round trip per handshake less); without Redis the revocation cannot be
 * checked and the request is refused with 503 anyway, so it needs no fallback.
 */
export function createRequestRateLimiter(
  redis: RedisClient,
  config: GatewayConfig,
  log: Logger,
): RequestRateLimiter {
  const make = (name: string, points: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${RATE_LIMIT_KEY_PREFIX}:${name}`,
      points,
      duration: WINDOW_S,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration: WINDOW_S }),
    })
  const ipLimiters = {
    http: make('http:ip', config.rateLimit.httpPerIpPerMinute),
    connect: make('connect:ip', config.rateLimit.connectPerIpPerMinute),
  }
  const userPoints = {
    http: config.rateLimit.httpPerUserPerMinute,
    connect: config.rateLimit.connectPerUserPerMinute,
  }
  const gate = createUserGate(redis)
  let lastWarn = 0

  async function consume(limiter: RateLimiterRedis, key: string, reply: ResponseHeaders): Promise<void> {
    try {
      await limiter.consume(key)
    } catch (res) {
      if (res instanceof RateLimiterRes) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(res.msBeforeNext / 1000))))
        throw new RATE_LIMITED()
      }
      // Both Redis and the insurance limiter failed (should not happen): do not lock users out.
      const now = Date.now()
      if (now - lastWarn > 10_000) {
        lastWarn = now
        log.warn({ err: res }, 'rate limiter unavailable; request allowed')
      }
    }
  }

  return {
    checkIp: (kind, ip, reply) => consume(ipLimiters[kind], ip, reply),
    async checkUser(kind, userId, issuedAtMs) {
      const r = await gate.check(userId, kind, WINDOW_S, issuedAtMs)
      return {
        revokedAt: r.revokedAt,
        retryAfterS: r.count > userPoints[kind] ? Math.max(1, Math.ceil(r.msBeforeNext / 1000)) : undefined,
      }
    },
  }
}
