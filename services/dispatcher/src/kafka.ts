// The kafkajs client, with its log lines routed into the service's pino logger.
import type { Logger, LogLevel } from '@tidings/runtime'
import { Kafka, type LogEntry, logLevel } from 'kafkajs'
import './codecs.ts'
import type { DispatcherConfig } from './config.ts'
import { kafkaSecurityConfig } from './kafka-security.ts'
import './kafkajs-idle-loop.ts'

// kafkajs at INFO narrates every join and fetch-manager restart; WARN keeps what an operator needs.
function kafkaLevel(level: LogLevel): logLevel {
  if (level === 'silent') return logLevel.NOTHING
  if (level === 'debug' || level === 'trace') return logLevel.INFO
  if (level === 'fatal' || level === 'error') return logLevel.ERROR
  return logLevel.WARN
}

// kafkajs's default (5 retries, ~9 s in all) gives up while a broker restarts or a controller fails
// over, and its consumer then crashes for good ("Failed to find group coordinator" is not retriable
// for its restart logic): the process would exit for its supervisor to restart. ~40 s rides that out
// in-process; longer outages still end in the supervisor's restart, never in an endless retry.
const CLIENT_RETRY = { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 }

export function createKafka(config: DispatcherConfig, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' })
  return new Kafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    ...kafkaSecurityConfig(config.kafka.security),
    retry: CLIENT_RETRY,
    logLevel: kafkaLevel(config.logLevel),
    logCreator:
      () =>
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, timestamp: _t, logger: _l, ...extra } = entry
        const fields = { namespace, ...extra }
        if (level === logLevel.ERROR) log.error(fields, message)
        else if (level === logLevel.WARN) log.warn(fields, message)
        else if (level === logLevel.INFO) log.info(fields, message)
        else log.debug(fields, message)
      },
  })
}
