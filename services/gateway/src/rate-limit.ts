import { RATE_LIMIT_KEY_PREFIX, type RedisClient } from '@tidings/delivery'
import type { Logger } from '@tidings/runtime'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import type { GatewayConfig } from './config.ts'
import { RATE_LIMITED } from './errors.ts'

/** What a limit counts: REST inbox calls, or new connections (WebSocket upgrades, SSE streams). */
export type RateLimitKind = 'http' | 'connect'

export interface RequestRateLimiter {
  /** Before authentication: the client IP. Throws 429 (with Retry-After set) past the limit. */
  checkIp(kind: RateLimitKind, req: FastifyRequest, reply: FastifyReply): Promise<void>
  /** After authentication: the user, counted on every pod. */
  checkUser(kind: RateLimitKind, userId: string, reply: FastifyReply): Promise<void>
}

const WINDOW_S = 60

/**
 * Limits per user and per IP shared by every pod, in Redis (rate-limiter-flexible: one atomic
 * INCR+EXPIRE script per check, a fixed one-minute window, keys under the prefix defined in
 * @tidings/delivery). While Redis is unreachable each pod falls back to the same limit in
 * memory (the library's insurance limiter) rather than letting everything through or nothing.
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
  const limiters = {
    http: {
      user: make('http:u', config.rateLimit.httpPerUserPerMinute),
      ip: make('http:ip', config.rateLimit.httpPerIpPerMinute),
    },
    connect: {
      user: make('connect:u', config.rateLimit.connectPerUserPerMinute),
      ip: make('connect:ip', config.rateLimit.connectPerIpPerMinute),
    },
  }
  let lastWarn = 0

  async function consume(limiter: RateLimiterRedis, key: string, reply: FastifyReply): Promise<void> {
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
    checkIp: (kind, req, reply) => consume(limiters[kind].ip, req.ip, reply),
    // the user id keeps its hash-tag braces out of the key: it is only ever one key per check
    checkUser: (kind, userId, reply) => consume(limiters[kind].user, userId, reply),
  }
}
