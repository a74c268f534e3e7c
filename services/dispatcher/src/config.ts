// Every setting of the dispatcher comes from an environment variable, is validated once at start
// and is then carried around as one typed, immutable object. A wrong setting stops the process with
// a ConfigError naming the variable (runService turns it into exit code 78).
import { type Static, Type } from '@sinclair/typebox'
import { TOPICS } from '@tidings/contracts'
import {
  type RedisTarget,
  type RetentionOptions,
  redisEnvProperties,
  redisTargetFromEnv,
  retentionEnvProperties,
  retentionFromEnv,
} from '@tidings/delivery'
import { type LogLevel, loadConfig, logLevelEnvProperties, requireThat } from '@tidings/runtime'
import { type KafkaSecurity, kafkaSecurityEnvProperties, kafkaSecurityFromEnv } from './kafka-security.ts'
import { type PushConfig, pushEnvProperties, toPushConfig } from './push-config.ts'

// Kafka's own rule for topic names (legal characters, at most 249 of them).
const KAFKA_TOPIC = '^[A-Za-z0-9._-]{1,249}$'
const Int = (min: number, max: number, def: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, default: def, description })

export const DispatcherEnv = Type.Object({
  KAFKA_BROKERS: Type.String({ minLength: 1, description: 'comma-separated host:port list' }),
  ...kafkaSecurityEnvProperties,
  KAFKA_CLIENT_ID: Type.String({
    minLength: 1,
    default: 'tidings-dispatcher',
    description: 'kafkajs client id',
  }),
  KAFKA_GROUP_ID: Type.String({ minLength: 1, default: 'tidings-dispatcher', description: 'consumer group' }),
  // A new group (or one whose committed offsets expired) starts at the oldest retained event. The
  // dispatcher creates its input topics itself, so on a fresh install "earliest" is exactly "every
  // event since the topic exists"; "latest" would drop events produced before the first join.
  KAFKA_FROM_BEGINNING: Type.Boolean({
    default: true,
    description: 'a new group starts at the oldest event',
  }),
  KAFKA_SESSION_TIMEOUT_MS: Int(6000, 300_000, 30_000, 'consumer group session timeout'),
  KAFKA_HEARTBEAT_INTERVAL_MS: Int(100, 60_000, 3000, 'consumer group heartbeat interval'),
  KAFKA_REBALANCE_TIMEOUT_MS: Int(1000, 600_000, 60_000, 'time members get to rejoin in a rebalance'),
  // Only matters when a partition is idle: a fetch with data returns at once. Also bounds how long a
  // graceful stop waits for an idle fetch to come back.
  KAFKA_MAX_WAIT_MS: Int(10, 30_000, 1000, 'longest a fetch waits for new data'),
  TOPIC_LOAN_DECISIONS: Type.String({
    pattern: KAFKA_TOPIC,
    default: TOPICS.loanDecisions,
    description: 'loan decisions input',
  }),
  TOPIC_NOTIFICATIONS_REQUESTED: Type.String({
    pattern: KAFKA_TOPIC,
    default: TOPICS.notificationsRequested,
    description: 'direct notification requests input',
  }),
  TOPIC_DLQ: Type.String({
    pattern: KAFKA_TOPIC,
    default: TOPICS.deadLetter,
    description: 'dead-letter topic',
  }),
  // Used only when the dispatcher has to create a missing topic; existing topics are left alone.
  TOPIC_PARTITIONS: Int(1, 10_000, 6, 'partitions of an input topic the dispatcher creates'),
  TOPIC_DLQ_PARTITIONS: Int(1, 10_000, 1, 'partitions of the dead-letter topic the dispatcher creates'),
  TOPIC_REPLICATION_FACTOR: Int(-1, 32, -1, 'replication factor of created topics; -1 = broker default'),
  ...redisEnvProperties,
  ...retentionEnvProperties,
  MAX_EVENT_BYTES: Int(256, 16_777_216, 65_536, 'bigger event values go to the DLQ as too_large'),
  PARTITIONS_CONSUMED_CONCURRENTLY: Int(1, 1000, 4, 'partitions processed at the same time'),
  RETRY_INITIAL_MS: Int(1, 60_000, 100, 'first backoff after a Redis or DLQ failure'),
  RETRY_MAX_MS: Int(1, 600_000, 5000, 'longest backoff after repeated failures'),
  HTTP_PORT: Int(0, 65_535, 9464, 'health and metrics port; 0 = any free port'),
  HTTP_HOST: Type.String({ minLength: 1, default: '0.0.0.0', description: 'health and metrics interface' }),
  ...logLevelEnvProperties,
  // below Kubernetes' default 30 s terminationGracePeriodSeconds, so that we exit before SIGKILL
  SHUTDOWN_GRACE_MS: Int(1000, 600_000, 25_000, 'hard limit of a graceful stop'),
  ...pushEnvProperties,
})
export type DispatcherEnv = Static<typeof DispatcherEnv>

export interface DispatcherConfig {
  kafka: {
    brokers: string[]
    clientId: string
    groupId: string
    fromBeginning: boolean
    sessionTimeoutMs: number
    heartbeatIntervalMs: number
    rebalanceTimeoutMs: number
    maxWaitMs: number
    partitionsConsumedConcurrently: number
    security: KafkaSecurity
  }
  topics: {
    loanDecisions: string
    notificationsRequested: string
    deadLetter: string
    partitions: number
    deadLetterPartitions: number
    replicationFactor: number
  }
  redis: RedisTarget
  retention: RetentionOptions
  maxEventBytes: number
  retry: { initialMs: number; maxMs: number }
  http: { port: number; host: string }
  logLevel: LogLevel
  shutdownGraceMs: number
  /** The push hand-off; undefined when PUSH_TOPIC is not set. */
  push: PushConfig | undefined
}

const BROKER = /^[^\s:,]+:(\d{1,5})$/

/** Reads and validates the environment; throws a ConfigError naming the first bad variable. */
export function loadDispatcherConfig(
  env: Record<string, string | undefined> = process.env,
): DispatcherConfig {
  const e = loadConfig(DispatcherEnv, env)

  const brokers = e.KAFKA_BROKERS.split(',')
    .map((b) => b.trim())
    .filter(Boolean)
  requireThat(brokers.length > 0, 'KAFKA_BROKERS', 'must list at least one host:port')
  for (const b of brokers) {
    const port = Number(BROKER.exec(b)?.[1])
    requireThat(port >= 1 && port <= 65_535, 'KAFKA_BROKERS', `must be host:port entries, got "${b}"`)
  }

  const redis: RedisTarget = redisTargetFromEnv(e)
  const security = kafkaSecurityFromEnv(e)

  // A dead-letter topic that is also an input would feed bad events back into the dispatcher forever.
  const topicVars = {
    TOPIC_LOAN_DECISIONS: e.TOPIC_LOAN_DECISIONS,
    TOPIC_NOTIFICATIONS_REQUESTED: e.TOPIC_NOTIFICATIONS_REQUESTED,
    TOPIC_DLQ: e.TOPIC_DLQ,
  }
  const seen = new Map<string, string>()
  for (const [variable, topic] of Object.entries(topicVars)) {
    const other = seen.get(topic)
    requireThat(other === undefined, variable, `must differ from ${other} (both are "${topic}")`)
    seen.set(topic, variable)
  }

  // kafkajs needs several heartbeats per session, or a healthy member is evicted between two of them.
  requireThat(
    e.KAFKA_HEARTBEAT_INTERVAL_MS * 3 <= e.KAFKA_SESSION_TIMEOUT_MS,
    'KAFKA_HEARTBEAT_INTERVAL_MS',
    `must be at most a third of KAFKA_SESSION_TIMEOUT_MS (${e.KAFKA_SESSION_TIMEOUT_MS})`,
  )
  // A fetch blocks the heartbeat until it returns.
  requireThat(
    e.KAFKA_MAX_WAIT_MS < e.KAFKA_SESSION_TIMEOUT_MS,
    'KAFKA_MAX_WAIT_MS',
    'must be less than KAFKA_SESSION_TIMEOUT_MS',
  )
  requireThat(e.RETRY_INITIAL_MS <= e.RETRY_MAX_MS, 'RETRY_INITIAL_MS', 'must not exceed RETRY_MAX_MS')
  requireThat(
    e.TOPIC_REPLICATION_FACTOR !== 0,
    'TOPIC_REPLICATION_FACTOR',
    'must be -1 (broker default) or at least 1',
  )

  const retention = retentionFromEnv(e)

  return {
    kafka: {
      brokers,
      clientId: e.KAFKA_CLIENT_ID,
      groupId: e.KAFKA_GROUP_ID,
      fromBeginning: e.KAFKA_FROM_BEGINNING,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: e.KAFKA_HEARTBEAT_INTERVAL_MS,
      rebalanceTimeoutMs: e.KAFKA_REBALANCE_TIMEOUT_MS,
      maxWaitMs: e.KAFKA_MAX_WAIT_MS,
      partitionsConsumedConcurrently: e.PARTITIONS_CONSUMED_CONCURRENTLY,
      security,
    },
    topics: {
      loanDecisions: e.TOPIC_LOAN_DECISIONS,
      notificationsRequested: e.TOPIC_NOTIFICATIONS_REQUESTED,
      deadLetter: e.TOPIC_DLQ,
      partitions: e.TOPIC_PARTITIONS,
      deadLetterPartitions: e.TOPIC_DLQ_PARTITIONS,
      replicationFactor: e.TOPIC_REPLICATION_FACTOR,
    },
    redis,
    retention,
    maxEventBytes: e.MAX_EVENT_BYTES,
    retry: { initialMs: e.RETRY_INITIAL_MS, maxMs: e.RETRY_MAX_MS },
    http: { port: e.HTTP_PORT, host: e.HTTP_HOST },
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    push: toPushConfig(e, topicVars),
  }
}
