// The kafkajs client, with its log lines routed into the service's pino logger.
import type { Logger } from '@tidings/runtime'
import { Kafka, type LogEntry, logLevel } from 'kafkajs'
import type { DispatcherConfig, LogLevel } from './config.ts'
import { kafkaSecurityConfig } from './kafka-security.ts'

// kafkajs at INFO narrates every join and fetch-manager restart; WARN keeps what an operator needs.
function kafkaLevel(level: LogLevel): logLevel {
  if (level === 'silent') return logLevel.NOTHING
  if (level === 'debug' || level === 'trace') return logLevel.INFO
  if (level === 'fatal' || level === 'error') return logLevel.ERROR
  return logLevel.WARN
}

export function createKafka(config: DispatcherConfig, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' })
  return new Kafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    ...kafkaSecurityConfig(config.kafka.security),
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
