// Starts a real gateway in-process on a free port against the test Redis, for this package's tests.
import {
  createDeliveryStore,
  createRedisConnection,
  DEFAULT_RETENTION,
  type DeliveryStore,
  type RedisClient,
} from '@tidings/delivery'
import { createLogger } from '@tidings/runtime'
import { infraFromEnv } from '@tidings/test/infra'
import { TEST_JWT_SECRET } from '@tidings/test/support/tokens'
import { buildGateway, type Gateway } from '../app.ts'
import { loadGatewayConfig } from '../config.ts'

export interface TestGateway {
  gateway: Gateway
  url: string
  /** The pod's pub/sub connection (a test may drop it: `disconnect(true)` reconnects). */
  subscriber: RedisClient
  /** Writes notifications exactly as the dispatcher does (same Lua script). */
  store: DeliveryStore
  stop(): Promise<void>
}

export async function startTestGateway(
  env: Record<string, string> = {},
  opts: { logs?: string[] } = {},
): Promise<TestGateway> {
  const { redisUrl } = infraFromEnv()
  // an empty value removes a default (e.g. JWT_SECRET for a JWKS-only gateway)
  const config = loadGatewayConfig(
    withoutEmpty({
      ...(env.REDIS_CLUSTER_NODES ? {} : { REDIS_URL: redisUrl }),
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: TEST_JWT_SECRET,
      // the test secret is the README's: development mode (no issuer/audience required)
      DEV_MODE: 'true',
      // every test connects from 127.0.0.1, concurrently with other test files: per-IP limits
      // are tested with their own addresses (limits.test.ts)
      CONNECT_RATE_PER_IP: '1000000',
      HTTP_RATE_PER_IP: '1000000',
      ALLOWED_ORIGINS: 'https://app.tidings.test',
      DRAIN_MS: '200',
      RECONNECT_JITTER_MS: '1000',
      LOG_LEVEL: 'silent',
      ...env,
    }),
  )
  const logs = opts.logs
  const logger = logs
    ? createLogger('gateway-test', config.logLevel, { write: (line: string) => void logs.push(line) })
    : createLogger('gateway-test', config.logLevel)
  const redis = createRedisConnection(config.redis, { name: 'gateway-test' })
  const subscriber = createRedisConnection(config.redis, { name: 'gateway-test-sub', subscriber: true })
  const writer = createRedisConnection(config.redis, { name: 'gateway-test-writer' })
  const gateway = await buildGateway({ config, logger, redis, subscriber })
  const url = await gateway.app.listen({ host: '127.0.0.1', port: 0 })
  return {
    gateway,
    url,
    subscriber,
    store: createDeliveryStore(writer, DEFAULT_RETENTION),
    async stop() {
      await gateway.close()
      for (const c of [redis, subscriber, writer]) c.disconnect()
    },
  }
}

let n = 0
export const notification = (label: string) => ({
  id: `n-${label}-${++n}`,
  kind: 'test.kind',
  createdAt: new Date().toISOString(),
  title: `title ${label}`,
  body: `body ${label}`,
  data: { label },
})

const withoutEmpty = (env: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''))
