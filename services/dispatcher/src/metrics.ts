// Prometheus metrics of the dispatcher. Every labelled series is created at zero up front, so a
// dashboard or alert sees "0 dead letters" rather than "no data" on a healthy dispatcher.
import {
  Counter,
  createMetricsRegistry,
  createRedisErrorCounter,
  Gauge,
  Histogram,
  type Registry,
} from '@tidings/runtime'
import pkg from '../package.json' with { type: 'json' }
import { DEAD_LETTER_REASON_CODES } from './reasons.ts'

export type DeliveryTarget = 'user' | 'topic'
const TARGETS: DeliveryTarget[] = ['user', 'topic']

export interface DispatcherMetrics {
  registry: Registry
  eventsConsumed: Counter<'topic'>
  notificationsDelivered: Counter<'target'>
  duplicates: Counter<'target'>
  deadLetters: Counter<'reason'>
  deadLettersShortened: Counter<'form'>
  deadLettersLost: Counter
  redisRetries: Counter
  deadLetterRetries: Counter
  retryingPartitions: Gauge
  batchDuration: Histogram
  batchSize: Histogram
  /** Kafka timestamp → the dispatcher reading the record, by source topic. */
  eventAge: Histogram<'topic'>
  /** Length of the user's inbox after each write (INBOX_CAP is where old notifications go). */
  inboxLength: Histogram
  /** Records of a partition not consumed yet (high watermark − committed offset), refreshed per scrape. */
  consumerLag: Gauge<'topic' | 'partition'>
  redisErrors: Counter<'kind'>
  kafkaErrors: Counter<'kind'>
}

/** What went wrong talking to Kafka, as a small fixed set (a label of `tidings_kafka_errors_total`). */
export const KAFKA_ERROR_KINDS = [
  'connection',
  'timeout',
  'broker',
  'retries_exhausted',
  'crash',
  'other',
] as const
export type KafkaErrorKind = (typeof KAFKA_ERROR_KINDS)[number]

export function kafkaErrorKind(err: unknown): KafkaErrorKind {
  const e = err as { name?: string; cause?: unknown } | null
  switch (e?.name) {
    case 'KafkaJSConnectionError':
    case 'KafkaJSConnectionClosedError':
    case 'KafkaJSBrokerNotFound':
      return 'connection'
    case 'KafkaJSRequestTimeoutError':
    case 'KafkaJSTimeout':
      return 'timeout'
    case 'KafkaJSProtocolError':
      return 'broker'
    case 'KafkaJSNumberOfRetriesExceeded':
      // what it gave up on says more than the giving up
      return e.cause ? kafkaErrorKind(e.cause) : 'retries_exhausted'
    default:
      return 'other'
  }
}

export function createDispatcherMetrics(inputTopics: string[]): DispatcherMetrics {
  const registry = createMetricsRegistry('dispatcher', { version: pkg.version })
  const registers = [registry]
  const m: DispatcherMetrics = {
    registry,
    eventsConsumed: new Counter({
      name: 'tidings_dispatcher_events_consumed_total',
      help: 'Kafka records handed to the dispatcher, by source topic (redeliveries included)',
      labelNames: ['topic'],
      registers,
    }),
    notificationsDelivered: new Counter({
      name: 'tidings_dispatcher_notifications_delivered_total',
      help: 'Notifications written to an inbox (target=user) or published to a broadcast topic (target=topic)',
      labelNames: ['target'],
      registers,
    }),
    duplicates: new Counter({
      name: 'tidings_dispatcher_duplicates_total',
      help: 'Events already turned into a notification within the dedupe window',
      labelNames: ['target'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'tidings_dispatcher_dead_letters_total',
      help: 'Events parked on the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    }),
    deadLettersShortened: new Counter({
      name: 'tidings_dispatcher_dead_letters_shortened_total',
      help: 'Dead letters stored with their value truncated (form=truncated) or also without the original headers (form=bare), because the dead-letter topic refused them whole',
      labelNames: ['form'],
      registers,
    }),
    deadLettersLost: new Counter({
      name: 'tidings_dispatcher_dead_letters_lost_total',
      help: 'Dead letters the dead-letter topic refused even bare (max.message.bytes below ~2 KiB): logged with their offset and skipped',
      registers,
    }),
    redisRetries: new Counter({
      name: 'tidings_dispatcher_redis_retries_total',
      help: 'Retries of a batch after a Redis write failed (consumption of the partition waits meanwhile)',
      registers,
    }),
    deadLetterRetries: new Counter({
      name: 'tidings_dispatcher_dead_letter_retries_total',
      help: 'Retries of a batch after producing to the dead-letter topic failed',
      registers,
    }),
    retryingPartitions: new Gauge({
      name: 'tidings_dispatcher_retrying_partitions',
      help: 'Partitions currently waiting for Redis or the dead-letter topic to recover',
      registers,
    }),
    batchDuration: new Histogram({
      name: 'tidings_dispatcher_batch_duration_seconds',
      help: 'Time to process one Kafka batch, retries included',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batchSize: new Histogram({
      name: 'tidings_dispatcher_batch_size',
      help: 'Records per Kafka batch',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    eventAge: new Histogram({
      name: 'tidings_dispatcher_event_age_seconds',
      help: 'Age of an event when the dispatcher reads it (Kafka record timestamp to now), by source topic',
      labelNames: ['topic'],
      buckets: [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600,
      ],
      registers,
    }),
    inboxLength: new Histogram({
      name: 'tidings_dispatcher_inbox_length',
      help: "Length of the user's inbox after a notification was added (the cap trims the oldest)",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 900, 1000, 2500, 10000],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'tidings_dispatcher_consumer_lag',
      help: "Records of an input partition the consumer group has not committed yet (high watermark minus the group's offset)",
      labelNames: ['topic', 'partition'],
      registers,
    }),
    redisErrors: createRedisErrorCounter(registry),
    kafkaErrors: new Counter({
      name: 'tidings_kafka_errors_total',
      help: 'Failed Kafka operations (dead-letter produce, consumer crashes, lag queries), by kind',
      labelNames: ['kind'],
      registers,
    }),
  }
  for (const kind of KAFKA_ERROR_KINDS) m.kafkaErrors.inc({ kind }, 0)
  for (const topic of inputTopics) m.eventAge.zero({ topic })
  for (const topic of inputTopics) m.eventsConsumed.inc({ topic }, 0)
  for (const target of TARGETS) {
    m.notificationsDelivered.inc({ target }, 0)
    m.duplicates.inc({ target }, 0)
  }
  for (const reason of DEAD_LETTER_REASON_CODES) m.deadLetters.inc({ reason }, 0)
  for (const form of ['truncated', 'bare']) m.deadLettersShortened.inc({ form }, 0)
  return m
}
