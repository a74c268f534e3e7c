import type { ChannelRouter, InboxReader, PresenceStore, RevocationStore } from '@tidings/delivery'
import type { Logger } from '@tidings/runtime'
import type { TokenVerifier } from './auth/token-verifier.ts'
import type { GatewayConfig } from './config.ts'
import type { DeadlineWheel } from './deadlines.ts'
import type { GatewayMetrics } from './metrics.ts'
import type { RequestRateLimiter } from './rate-limit.ts'
import type { Session } from './session.ts'
import type { DeliveryTracing } from './tracing.ts'

/** What every session of a pod shares: one instance per process. */
export interface PodContext {
  config: GatewayConfig
  store: InboxReader
  router: ChannelRouter
  presence: PresenceStore
  revocations: RevocationStore
  rateLimiter: RequestRateLimiter
  /** Upgraded WebSockets until their TCP socket closes, the closing ones included. */
  openSockets: number
  verifier: TokenVerifier
  log: Logger
  metrics: GatewayMetrics
  sessions: Set<Session>
  deadlines: DeadlineWheel
  /** Delivery spans and the age of delivered notifications (tracing.ts). */
  tracing: DeliveryTracing
  /** One error listener shared by every socket. */
  onSocketError: (err: Error) => void
}

/**
 * One sweep per heartbeat for the whole pod (not a timer per socket): a socket that did not
 * answer the previous ping is terminated, the others are pinged and their presence extended.
 */
export function startHeartbeat(pod: PodContext): () => void {
  const timer = setInterval(() => {
    for (const s of pod.sessions) {
      if (s.transport.gone) {
        s.cleanup()
        continue
      }
      if (!s.alive && s.transport.answersPings) {
        pod.log.debug({ sessionId: s.id }, 'missed pong: terminating')
        s.transport.terminate()
        s.cleanup()
        continue
      }
      s.alive = false
      s.transport.heartbeat()
      if (s.admitted) pod.presence.refresh(s.userId, s.id).catch(() => {})
    }
  }, pod.config.HEARTBEAT_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/**
 * Graceful drain: every client is told `reconnect` (with its own jittered `afterMs`) and closed
 * 1012, spread evenly-at-random over `drainMs` so the other pods are not hit by a thundering
 * herd. Resolves when every socket is closed.
 */
export function drainSessions(pod: PodContext, drainMs: number, jitterMs: number): Promise<void> {
  const all = [...pod.sessions]
  if (all.length === 0) return Promise.resolve()
  return new Promise((resolve) => {
    let left = all.length
    for (const s of all) {
      setTimeout(() => {
        s.reconnect(Math.floor(Math.random() * jitterMs))
        if (--left === 0) resolve()
      }, Math.random() * drainMs)
    }
  })
}
