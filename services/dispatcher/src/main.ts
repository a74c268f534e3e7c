// The dispatcher process: configuration from the environment, pino JSON logs on stdout, graceful
// stop on SIGTERM/SIGINT (bounded by SHUTDOWN_GRACE_MS), exit 78 on a bad setting.
import { createLogger, runService } from '@tidings/runtime'
import { loadDispatcherConfig } from './config.ts'
import { createDispatcher } from './service.ts'

await runService('dispatcher', async () => {
  const config = loadDispatcherConfig(process.env)
  const logger = createLogger('dispatcher', config.logLevel)
  const dispatcher = createDispatcher(config, logger, {
    // kafkajs gave up: stop cleanly and exit non-zero so that the supervisor starts a fresh process
    onFatal: () => {
      void dispatcher.close('fatal').finally(() => process.exit(1))
    },
  })
  await dispatcher.start()
  return { logger, service: dispatcher, graceMs: config.shutdownGraceMs }
})
