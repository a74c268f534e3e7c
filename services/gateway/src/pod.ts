import type {
  ChannelRouter,
  InboxReader,
  PresenceStore,
  RevocationStore,
  SessionAdmission,
} from '@tidings/delivery'
import type { Logger } from '@tidings/runtime'
import type { TokenVerifier } from './auth/token-verifier.ts'
import type { GatewayConfig } from './config.ts'
import type { DeadlineWheel } from './deadlines.ts'
import type { GatewayMetrics } from './metrics.ts'
import type { RequestRateLimiter } from './rate-limit.ts'
import type { DeliveryTracing } from './tracing.ts'

/**
 * The services every session and route of a pod shares: one instance per process, built by
 * app.ts. The sessions themselves are the hub's (hub.ts).
 */
export interface PodContext {
  config: GatewayConfig
  store: InboxReader
  router: ChannelRouter
  presence: PresenceStore
  revocations: RevocationStore
  /** A new session's presence join, revocation check and first inbox read, in one step. */
  admission: SessionAdmission
  rateLimiter: RequestRateLimiter
  verifier: TokenVerifier
  log: Logger
  metrics: GatewayMetrics
  deadlines: DeadlineWheel
  /** Delivery spans and the age of delivered notifications (tracing.ts). */
  tracing: DeliveryTracing
  /** One error listener shared by every socket. */
  onSocketError: (err: Error) => void
}
