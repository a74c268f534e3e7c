// A whole Tidings deployment as real processes: one dispatcher and N gateways on one Redis and one
// Kafka, with topics and a consumer group of its own (so stacks never see each other's events).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Producer } from 'kafkajs'
import { createTopics, uniqueName } from '../infra/index.ts'
import { TEST_JWT_SECRET } from '../support/tokens.ts'
import { connectProducer } from './kafka.ts'
import { dispatcherEntry, gatewayEntry, type ServiceProcess, serviceProcess } from './processes.ts'

export interface StackTopics {
  loanDecisions: string
  notificationsRequested: string
  deadLetter: string
}

export interface StackOptions {
  redisUrl: string
  kafkaBrokers: string[]
  /** Default 2. */
  gateways?: number
  /** Default true. */
  dispatcher?: boolean
  /** Partitions of the two input topics (default 3); the dead-letter topic has 1. */
  partitions?: number
  /** Extra/overriding gateway settings, for every gateway. */
  gatewayEnv?: Record<string, string>
  dispatcherEnv?: Record<string, string>
  /** Prefix of topic, group and log directory names. */
  name?: string
  /** Every output line of every process, prefixed by its name (the local stack prints them). */
  onLine?: (name: string, line: string) => void
}

export interface Stack {
  topics: StackTopics
  groupId: string
  /** null when started with `dispatcher: false`. */
  dispatcher: ServiceProcess | null
  gateways: ServiceProcess[]
  /** Where the processes' logs are (removed by stop() unless a failure was reported or TIDINGS_E2E_KEEP_LOGS=1). */
  logDir: string
  /** Every process of the stack. */
  processes(): ServiceProcess[]
  /** The log tails of every process, for a failed test. */
  describe(lines?: number): string
  /** Call from `afterEach((t) => stack.check(t))`: on a failure prints the logs and keeps them. */
  check(t: { name: string }): void
  /** Stops the gateways then the dispatcher (SIGTERM, SIGKILL when they hang). */
  stop(): Promise<void>
}

/** The settings the e2e tests run gateways with (short timers; HS256 with the test secret). */
export function testGatewayEnv(redisUrl: string, podName: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    HOST: '127.0.0.1',
    POD_NAME: podName,
    JWT_ALGORITHMS: 'HS256',
    JWT_SECRET: TEST_JWT_SECRET,
    // the test secret is the README's: development mode (no issuer/audience required)
    DEV_MODE: 'true',
    // every test client connects from 127.0.0.1: per-IP limits would count the whole suite
    CONNECT_RATE_PER_IP: '1000000',
    HTTP_RATE_PER_IP: '1000000',
    ALLOWED_ORIGINS: 'https://app.tidings.test',
    HEARTBEAT_MS: '5000',
    DRAIN_MS: '1000',
    RECONNECT_JITTER_MS: '1000',
    SHUTDOWN_GRACE_MS: '10000',
    LOG_LEVEL: 'info',
  }
}

/** The settings the e2e tests run the dispatcher with (fast group membership, short idle fetches). */
export function testDispatcherEnv(
  redisUrl: string,
  kafkaBrokers: string[],
  topics: StackTopics,
  groupId: string,
  partitions: number,
): Record<string, string> {
  return {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    KAFKA_GROUP_ID: groupId,
    KAFKA_CLIENT_ID: groupId,
    TOPIC_LOAN_DECISIONS: topics.loanDecisions,
    TOPIC_NOTIFICATIONS_REQUESTED: topics.notificationsRequested,
    TOPIC_DLQ: topics.deadLetter,
    TOPIC_PARTITIONS: String(partitions),
    REDIS_URL: redisUrl,
    // the broker's minimum: a SIGKILLed member is evicted after 6 s instead of 30 s
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    KAFKA_REBALANCE_TIMEOUT_MS: '10000',
    KAFKA_MAX_WAIT_MS: '100',
    HTTP_HOST: '127.0.0.1',
    SHUTDOWN_GRACE_MS: '10000',
    LOG_LEVEL: 'info',
  }
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const name = opts.name ?? 'e2e'
  const partitions = opts.partitions ?? 3
  const withDispatcher = opts.dispatcher ?? true
  const logDir = mkdtempSync(join(tmpdir(), `tidings-${name}-`))
  const topics: StackTopics = {
    loanDecisions: uniqueName(`${name}.loan.decisions`),
    notificationsRequested: uniqueName(`${name}.notifications.requested`),
    deadLetter: uniqueName(`${name}.notifications.dlq`),
  }
  const groupId = uniqueName(`${name}-dispatcher`)
  const lineSink = (who: string) => (opts.onLine ? (line: string) => opts.onLine!(who, line) : undefined)

  const gateways = Array.from({ length: opts.gateways ?? 2 }, (_, i) =>
    serviceProcess({
      name: `gateway-${i + 1}`,
      entry: gatewayEntry,
      env: { ...testGatewayEnv(opts.redisUrl, `${name}-gw-${i + 1}`), ...opts.gatewayEnv },
      logDir,
      portEnv: 'PORT',
      ...(opts.onLine ? { onLine: lineSink(`gateway-${i + 1}`)! } : {}),
    }),
  )
  const dispatcher = withDispatcher
    ? serviceProcess({
        name: 'dispatcher',
        entry: dispatcherEntry,
        env: {
          ...testDispatcherEnv(opts.redisUrl, opts.kafkaBrokers, topics, groupId, partitions),
          ...opts.dispatcherEnv,
        },
        logDir,
        portEnv: 'HTTP_PORT',
        ...(opts.onLine ? { onLine: lineSink('dispatcher')! } : {}),
      })
    : null

  let keepLogs = process.env.TIDINGS_E2E_KEEP_LOGS === '1'
  const all = (): ServiceProcess[] => [...gateways, ...(dispatcher ? [dispatcher] : [])]
  const describe = (lines = 40) =>
    all()
      .map(
        (p) => `--- ${p.name} (${p.running ? `pid ${p.pid}` : 'not running'}) ${p.logFile}\n${p.tail(lines)}`,
      )
      .join('\n')

  const stack: Stack = {
    topics,
    groupId,
    dispatcher,
    gateways,
    logDir,
    processes: all,
    describe,
    check(t) {
      // TestContext#passed exists at run time (Node ≥ 21) but not in every @types/node
      if ((t as { passed?: boolean }).passed !== false) return
      keepLogs = true
      process.stderr.write(`\n[e2e] "${t.name}" failed; process logs kept in ${logDir}\n${describe()}\n`)
    },
    async stop() {
      // gateways first: they are what clients see; then the dispatcher commits and leaves its group
      await Promise.allSettled(gateways.map((g) => g.stop()))
      await dispatcher?.stop()
      if (!keepLogs) rmSync(logDir, { recursive: true, force: true })
    },
  }

  try {
    if (withDispatcher) {
      // created here (not left to the dispatcher) so that producers can use them before it joins
      await createTopics(opts.kafkaBrokers, [topics.loanDecisions, topics.notificationsRequested], partitions)
      await createTopics(opts.kafkaBrokers, [topics.deadLetter], 1)
    }
    // allSettled: a failed start must not leave another process half-started when stop() runs
    const started = await Promise.allSettled([...gateways.map((g) => g.start()), dispatcher?.start()])
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    return stack
  } catch (error) {
    keepLogs = true
    await stack.stop()
    throw error
  }
}

/**
 * A stack and a connected producer, started together. If either fails the other is stopped before
 * the error is thrown: a before() hook that fails half-way must not leave a connection that keeps
 * the test file's process alive.
 */
export async function startStackAndProducer(
  opts: StackOptions,
): Promise<{ stack: Stack; producer: Producer }> {
  const [stack, producer] = await Promise.allSettled([startStack(opts), connectProducer(opts.kafkaBrokers)])
  if (stack.status === 'fulfilled' && producer.status === 'fulfilled') {
    return { stack: stack.value, producer: producer.value }
  }
  if (producer.status === 'fulfilled') await producer.value.disconnect()
  if (stack.status === 'fulfilled') await stack.value.stop()
  throw stack.status === 'rejected' ? stack.reason : (producer as PromiseRejectedResult).reason
}
