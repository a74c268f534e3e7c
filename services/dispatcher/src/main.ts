// The dispatcher process: configuration from the environment, pino JSON logs on stdout, graceful
// stop on SIGTERM/SIGINT (bounded by SHUTDOWN_GRACE_MS), exit 78 on a bad setting.
import { verifyRedisAccess } from '@tidings/delivery'
import { createLogger, runService } from '@tidings/runtime'
import { loadDispatcherConfig } from './config.ts'
import { checkKafkaAccess } from './kafka-security.ts'
import { createDispatcher } from './service.ts'

await runService('dispatcher', async () => {
  const config = loadDispatcherConfig(process.env)
  const logger = createLogger('dispatcher', config.logLevel)
  // Wrong credentials or an untrusted certificate stop the process here (exit 78, naming the
  // setting); a Kafka or Redis that is merely down is retried by the normal start.
  const unavailable = (what: string) => (err: Error) =>
    logger.warn({ err: err.message }, `${what} unavailable at start; retrying`)
  await Promise.all([
    checkKafkaAccess(config.kafka.brokers, config.kafka.security, unavailable('kafka')),
    verifyRedisAccess(config.redis, unavailable('redis')),
  ])
  const dispatcher = createDispatcher(config, logger, {
    // kafkajs gave up: stop cleanly and exit non-zero so that the supervisor starts a fresh process
    onFatal: () => {
      void dispatcher.close('fatal').finally(() => process.exit(1))
    },
  })
  await dispatcher.start()
  return { logger, service: dispatcher, graceMs: config.shutdownGraceMs }
})
