import { hostname } from 'node:os'
import { createRedisConnection, verifyRedisAccess } from '@tidings/delivery'
import { createLogger, runService } from '@tidings/runtime'
import { startAdminServer } from './admin-server.ts'
import { buildGateway } from './app.ts'
import { loadGatewayConfig } from './config.ts'

await runService('gateway', async () => {
  const config = loadGatewayConfig()
  const pod = config.podName ?? hostname()
  const logger = createLogger('gateway', config.logLevel).child({ pod })
  // Wrong credentials or an untrusted certificate: exit 78 naming the setting, not a retry loop.
  await verifyRedisAccess(config.redis, (err) =>
    logger.warn({ err: err.message }, 'redis unavailable at start; retrying'),
  )
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
  const admin =
    config.admin.port === undefined
      ? undefined
      : await startAdminServer(gateway, logger, config.admin.port, config.admin.host)
  const address = await gateway.app.listen({ host: config.listen.host, port: config.listen.port })
  logger.info({ address, adminPort: admin?.port }, 'gateway listening')
  return {
    logger,
    graceMs: config.shutdownGraceMs,
    service: {
      async close() {
        await gateway.close()
        await admin?.server.close()
        await Promise.allSettled([redis.quit(), subscriber.quit()])
      },
    },
  }
})
