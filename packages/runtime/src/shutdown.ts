import closeWithGrace from 'close-with-grace'
import type { Logger } from 'pino'
import { ConfigError } from './config.ts'
import { shutdownTracing } from './tracing.ts'

export interface RunningService {
  /** Stops gracefully: the service's drain logic lives here. */
  close(signal: string | undefined): Promise<void>
}

/**
 * Starts a service and stops it on SIGTERM/SIGINT (or an uncaught error) through its own
 * close(), bounded by `graceMs`: close-with-grace exits the process if close() hangs.
 * A ConfigError at start prints one line naming the variable and exits with 78 (EX_CONFIG).
 */
export async function runService(
  name: string,
  start: () => Promise<{ logger: Logger; service: RunningService; graceMs: number }>,
): Promise<void> {
  let started: Awaited<ReturnType<typeof start>>
  try {
    started = await start()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: configuration error: ${err.message}\n`)
      process.exit(78)
    }
    process.stderr.write(`${name}: failed to start: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  }
  const { logger, service, graceMs } = started
  closeWithGrace({ delay: graceMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'stopping after an uncaught error')
    else logger.info({ signal }, 'stopping')
    await service.close(signal)
    // the spans of the last moments (the drain) are buffered: export them before the process ends
    await shutdownTracing()
    logger.info('stopped')
  })
}
