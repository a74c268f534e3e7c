// A pod in memory for unit tests: the hub and its sessions on the in-memory delivery
// implementations (packages/delivery *-memory.ts) and a fake transport. No Redis, no socket.
import type { ServerFrame } from '@tidings/contracts'
import {
  createMemoryInbox,
  createMemoryPresenceStore,
  createMemoryRevocationStore,
  createMemoryRouter,
  DEFAULT_RETENTION,
  type MemoryInbox,
  type MemoryRouter,
  type PresenceStore,
  type RevocationStore,
  sequentialSessionAdmission,
} from '@tidings/delivery'
import { createLogger } from '@tidings/runtime'
import { TEST_JWT_SECRET } from '@tidings/test/support/tokens'
import { createTokenVerifier } from '../auth/token-verifier.ts'
import type { SessionClose } from '../close-reasons.ts'
import { loadGatewayConfig } from '../config.ts'
import { createDeadlineWheel } from '../deadlines.ts'
import { Hub } from '../hub.ts'
import { createGatewayMetrics } from '../metrics.ts'
import type { PodContext } from '../pod.ts'
import type { RequestRateLimiter } from '../rate-limit.ts'
import { createDeliveryTracing } from '../tracing.ts'
import type { Transport } from '../transport.ts'

export interface MemoryPod {
  pod: PodContext
  hub: Hub
  inbox: MemoryInbox
  router: MemoryRouter
  presence: PresenceStore & { readonly refreshes: number }
  revocations: RevocationStore
  /** Stops the pod's timers. */
  stop(): void
}

export function createMemoryPod(env: Record<string, string> = {}): MemoryPod {
  const config = loadGatewayConfig({
    REDIS_URL: 'redis://127.0.0.1:6379', // never connected to
    JWT_ALGORITHMS: 'HS256',
    JWT_SECRET: TEST_JWT_SECRET,
    DEV_MODE: 'true',
    LOG_LEVEL: 'silent',
    ...env,
  })
  const router = createMemoryRouter()
  // the in-memory inbox stands in for the dispatcher's writes too: the cap is the writer's setting
  const inbox = createMemoryInbox({ inboxCap: DEFAULT_RETENTION.inboxCap, router })
  const presence = createMemoryPresenceStore({ ttlMs: Math.ceil(config.socket.heartbeatMs * 2.5) })
  const revocations = createMemoryRevocationStore(router)
  const metrics = createGatewayMetrics(() => router.channelCount)
  const pod: PodContext = {
    config,
    store: inbox,
    router,
    presence,
    revocations,
    admission: sequentialSessionAdmission(presence, inbox, revocations),
    rateLimiter: {} as RequestRateLimiter, // requests only: sessions never use it
    verifier: createTokenVerifier(config.auth),
    log: createLogger('gateway-unit', 'silent'),
    metrics,
    deadlines: createDeadlineWheel(),
    tracing: createDeliveryTracing({ enabled: false, pod: 'unit', age: metrics.deliveryAge }),
    onSocketError: () => {},
  }
  const hub = new Hub(pod)
  return {
    pod,
    hub,
    inbox,
    router,
    presence,
    revocations,
    stop() {
      hub.stop()
      pod.deadlines.stop()
    },
  }
}

export type SentFrame = { type: ServerFrame['type'] | 'notification' | 'broadcast'; json: string }

/** A transport that records what the session sends; the test plays the network. */
export class FakeTransport implements Transport {
  readonly kind = 'ws' as const
  readonly answersPings = true
  readonly sent: SentFrame[] = []
  closedWith: { code: number; reason: string } | undefined
  backlog = 0
  gone = false
  pings = 0
  terminated = false

  notification(frame: Buffer | string): void {
    this.sent.push({ type: 'notification', json: frame.toString() })
  }
  broadcast(frame: Buffer): void {
    this.sent.push({ type: 'broadcast', json: frame.toString() })
  }
  control(type: ServerFrame['type'], json: string): void {
    this.sent.push({ type, json })
  }
  close(why: SessionClose): void {
    this.closedWith ??= { code: why.code, reason: why.reason }
  }
  heartbeat(): void {
    this.pings++
  }
  terminate(): void {
    this.terminated = true
    this.gone = true
  }

  /** The parsed frames sent so far of one type. */
  frames<T = Record<string, unknown>>(type: SentFrame['type']): T[] {
    return this.sent.filter((f) => f.type === type).map((f) => JSON.parse(f.json) as T)
  }
  /** The seqs of the notifications sent so far, in order. */
  get seqs(): number[] {
    return this.frames<{ seq: number }>('notification').map((n) => n.seq)
  }
}

/** Lets every pending step of the in-memory stores run (they resolve at once, in microtasks). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
