// Wires the dispatcher together: Kafka consumer group → batch handler → Redis / dead-letter topic,
// plus the health/metrics server. start() and close() are the whole lifecycle.
import { CLOUDEVENT_TYPES } from '@tidings/contracts'
import {
  createInboxWriter,
  createPresenceStore,
  createPushQueue,
  createRedisConnection,
  pingRedis,
  type RedisClient,
} from '@tidings/delivery'
import {
  createHealthServer,
  type Logger,
  type Readiness,
  type Registry,
  redisErrorKind,
  tracingEnabled,
  withTimeout,
} from '@tidings/runtime'
import { type Consumer, Partitioners, type Producer } from 'kafkajs'
import { createBatchHandler } from './batch.ts'
import type { DispatcherConfig } from './config.ts'
import { createDeadLetterSender } from './dead-letter.ts'
import type { EventType } from './decode.ts'
import { createKafka } from './kafka.ts'
import { createLagCollector } from './lag.ts'
import { createDispatcherMetrics } from './metrics.ts'
import { createPushHandOff, type PushHandOff } from './push.ts'
import { ensureTopics } from './topics.ts'
import { createRecordTracer } from './tracing.ts'

export interface DispatcherOptions {
  /**
   * Called when the dispatcher cannot go on by itself (kafkajs gave up and will not restart the
   * consumer). The process should stop so that its supervisor restarts it. Default: log only.
   */
  onFatal?: (err: Error) => void
}

export interface Dispatcher {
  /** Creates missing topics, connects, joins the consumer group; resolves once partitions are assigned. */
  start(): Promise<void>
  /** Stops fetching, finishes the batch in hand, commits, leaves the group, disconnects. Idempotent. */
  close(signal?: string): Promise<void>
  /** The health/metrics port (after start; useful when configured as 0). */
  readonly httpPort: number
  readonly metricsRegistry: Registry
  /** What /readyz reports. */
  readiness(): Promise<Readiness>
}

// How long a stop waits for QUIT (the replies in flight) before dropping the connection.
const QUIT_TIMEOUT_MS = 1000
// Redis connection errors repeat every reconnect attempt; one log line per interval is enough.
const REDIS_ERROR_LOG_INTERVAL_MS = 10_000

export function createDispatcher(
  config: DispatcherConfig,
  logger: Logger,
  options: DispatcherOptions = {},
): Dispatcher {
  const topics = config.topics
  const topicTypes = new Map<string, EventType>([
    [topics.loanDecisions, CLOUDEVENT_TYPES.loanDecision],
    [topics.notificationsRequested, CLOUDEVENT_TYPES.notificationRequested],
  ])
  const metrics = createDispatcherMetrics([...topicTypes.keys()])
  const kafka = createKafka(config, logger)
  const stopping = new AbortController()

  let redis: RedisClient | undefined
  let producer: Producer | undefined
  let consumer: Consumer | undefined
  let push: PushHandOff | undefined
  let joined = false
  let fatal: Error | undefined
  let httpPort = -1
  let closing: Promise<void> | undefined

  const inputTopics = [...topicTypes.keys()]
  const lag = createLagCollector(kafka, config.kafka.groupId, inputTopics, metrics, logger)
  const health = createHealthServer({
    registry: metrics.registry,
    readiness,
    logger,
    // consumer lag is asked of Kafka at each scrape
    beforeScrape: () => lag.refresh(),
  })

  async function readiness(): Promise<Readiness> {
    const consumerOk = joined && !fatal && !stopping.signal.aborted
    const redisOk = await ping()
    return { ready: consumerOk && redisOk, checks: { consumer: consumerOk, redis: redisOk } }
  }

  function ping(): Promise<boolean> {
    return redis ? pingRedis(redis) : Promise.resolve(false)
  }

  function connectRedis(): RedisClient {
    const client = createRedisConnection(config.redis, {
      name: config.kafka.clientId,
      // traced, the delivery script's Redis span must be a child of its record's span (tracing.test)
      ...(tracingEnabled() && { unpipelined: ['evalsha', 'eval'] }),
    })
    let lastLogged = 0
    // Without a listener ioredis prints every reconnect failure to stderr; the batch handler logs
    // the failures that matter (writes), this keeps one line per interval for the connection itself.
    client.on('error', (err: Error) => {
      metrics.redisErrors.inc({ kind: redisErrorKind(err) })
      const now = Date.now()
      if (now - lastLogged < REDIS_ERROR_LOG_INTERVAL_MS) return
      lastLogged = now
      logger.warn({ err: err.message }, 'redis connection error')
    })
    return client
  }

  async function start(): Promise<void> {
    try {
      httpPort = await health.listen(config.http.port, config.http.host)
      // Redis may be down at start: the connection keeps retrying and writes wait for it, so the
      // dispatcher starts anyway (not ready) instead of crash-looping.
      redis = connectRedis()
      const store = createInboxWriter(redis, config.retention)

      // through a client that does not log: while new topics get their leaders, kafkajs logs each
      // refused request as an ERROR, which the wait expects and retries (its failure is thrown)
      await ensureTopics(createKafka({ ...config, logLevel: 'silent' }, logger), config, logger)

      producer = kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        // The batch handler retries with its own backoff and heartbeats in between; long retries
        // inside one send would starve the consumer group's heartbeat.
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      })
      await producer.connect()
      if (config.push) {
        push = createPushHandOff({
          config: config.push,
          queue: createPushQueue(redis, config.push.topic),
          // only `count` is used here; the TTL is the gateways' business
          presence: createPresenceStore(redis, { ttlMs: 60_000 }),
          producer,
          inboxTtlSeconds: config.retention.inboxTtlSeconds,
          registry: metrics.registry,
          logger,
        })
      }

      const c = kafka.consumer({
        groupId: config.kafka.groupId,
        sessionTimeout: config.kafka.sessionTimeoutMs,
        heartbeatInterval: config.kafka.heartbeatIntervalMs,
        rebalanceTimeout: config.kafka.rebalanceTimeoutMs,
        maxWaitTimeInMs: config.kafka.maxWaitMs,
        allowAutoTopicCreation: false,
      })
      consumer = c
      const joinedOnce = watchConsumer(c)
      joinedOnce.catch(() => undefined) // awaited below; a crash before that must not be "unhandled"
      await c.connect()
      await c.subscribe({
        topics: [topics.loanDecisions, topics.notificationsRequested],
        fromBeginning: config.kafka.fromBeginning,
      })
      await c.run({
        // Offsets are resolved by the handler, only for records safely stored (see batch.ts);
        // autoCommit then commits exactly those, after each batch, on rebalance and every second.
        eachBatchAutoResolve: false,
        autoCommit: true,
        autoCommitInterval: 1000,
        partitionsConsumedConcurrently: config.kafka.partitionsConsumedConcurrently,
        eachBatch: createBatchHandler({
          topicTypes,
          maxEventBytes: config.maxEventBytes,
          store,
          sendDeadLetters: createDeadLetterSender(producer, topics.deadLetter),
          metrics,
          logger,
          retry: config.retry,
          heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
          stopping: stopping.signal,
          tracer: createRecordTracer(tracingEnabled(), metrics.eventAge),
          ...(push ? { push } : {}),
        }),
      })
      await joinedOnce
      push?.start()
      logger.info(
        {
          groupId: config.kafka.groupId,
          topics: [...topicTypes.keys()],
          deadLetterTopic: topics.deadLetter,
          pushTopic: config.push?.topic,
          httpPort,
        },
        'dispatcher started',
      )
    } catch (err) {
      await close('start failed')
      throw err
    }
  }

  /** Tracks group membership for /readyz; resolves on the first join, rejects on a crash before it. */
  function watchConsumer(c: Consumer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      c.on(c.events.GROUP_JOIN, (e) => {
        joined = true
        logger.info(
          { memberAssignment: e.payload.memberAssignment, duration: e.payload.duration },
          'joined the group',
        )
        resolve()
      })
      c.on(c.events.REBALANCING, () => logger.info('group is rebalancing'))
      c.on(c.events.CRASH, (e) => {
        joined = false
        const error = e.payload.error
        metrics.kafkaErrors.inc({ kind: 'crash' })
        if (e.payload.restart) {
          logger.error({ err: error }, 'consumer crashed; kafkajs restarts it')
          return
        }
        fatal = error
        logger.fatal({ err: error }, 'consumer crashed and will not restart')
        reject(error)
        options.onFatal?.(error)
      })
      c.on(c.events.STOP, () => {
        joined = false
      })
    })
  }

  function close(signal?: string): Promise<void> {
    closing ??= (async () => {
      logger.info({ signal }, 'dispatcher stopping')
      // Cuts backoffs short; a batch that is retrying lets go of its partition without resolving more.
      stopping.abort()
      // kafkajs: stop fetching, wait for the batches in hand, commit resolved offsets, leave the group.
      await consumer
        ?.disconnect()
        .catch((err: unknown) => logger.error({ err }, 'consumer disconnect failed'))
      joined = false
      await push?.stop()
      await producer
        ?.disconnect()
        .catch((err: unknown) => logger.error({ err }, 'producer disconnect failed'))
      await lag.close()
      if (redis) await quitRedis(redis)
      await health.close()
      logger.info('dispatcher stopped')
    })()
    return closing
  }

  return {
    start,
    close,
    get httpPort() {
      return httpPort
    },
    metricsRegistry: metrics.registry,
    readiness,
  }
}

/** QUIT when connected (flushes replies in flight); a connection that is retrying is just dropped. */
async function quitRedis(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect()
    return
  }
  await withTimeout(
    redis.quit().catch(() => undefined),
    QUIT_TIMEOUT_MS,
    () => undefined,
  )
  redis.disconnect()
}
