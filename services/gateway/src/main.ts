import { hostname } from 'node:os'
import { createRedisConnection } from '@tidings/delivery'
import { createLogger, runService } from '@tidings/runtime'
import { buildGateway } from './app.ts'
import { loadGatewayConfig } from './config.ts'

await runService('gateway', async () => {
  const config = loadGatewayConfig()
  const pod = config.POD_NAME ?? hostname()
  const logger = createLogger('gateway', config.LOG_LEVEL).child({ pod })
  const redis = createRedisConnection(config.redis, { name: `tidings-gateway:${pod}` })
  const subscriber = createRedisConnection(config.redis, {
    name: `tidings-gateway-sub:${pod}`,
    subscriber: true,
  })
  for (const [role, conn] of [
    ['commands', redis],
    ['pubsub', subscriber],
  ] as const) {
    conn.on('error', (err) => logger.warn({ err: err.message, role }, 'redis connection error'))
  }
  const gateway = await buildGateway({ config, logger, redis, subscriber })
  const address = await gateway.app.listen({ host: config.HOST, port: config.PORT })
  logger.info({ address }, 'gateway listening')
  return {
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    service: {
      async close() {
        await gateway.close()
        await Promise.allSettled([redis.quit(), subscriber.quit()])
      },
    },
  }
})
