// The deployment a chaos run breaks: a private Kafka broker and a private Redis with AOF (both
// restarted by the run, so never the test run's shared ones), N gateways and M dispatchers in one
// consumer group, as real processes, and the faults: SIGKILL a gateway (it comes back, as its pod
// would), SIGKILL a dispatcher (it stays down: the group rebalances to the others), restart Redis,
// restart the Kafka broker.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dispatcherEntry, gatewayEntry, type ServiceProcess, serviceProcess } from '../e2e/processes.ts'
import { testDispatcherEnv, testGatewayEnv } from '../e2e/stack.ts'
import {
  createTopics,
  type KafkaServer,
  type RedisServer,
  startKafka,
  startRedis,
  uniqueName,
} from '../infra/index.ts'

export interface ChaosCluster {
  kafka: KafkaServer
  redis: RedisServer
  gateways: ServiceProcess[]
  dispatchers: ServiceProcess[]
  topic: string
  logDir: string
  /** Processes that exited without being asked to, and were restarted as their pod would be. */
  crashes: string[]
  gatewayUrls(): string[]
  killGateway(index: number): Promise<void>
  killDispatcher(index: number): Promise<void>
  restartRedis(): Promise<void>
  restartKafka(): Promise<void>
  /** Keeps the logs when `keepLogs`; otherwise removes them. */
  stop(keepLogs: boolean): Promise<void>
}

export async function startChaosCluster(opts: {
  gateways: number
  dispatchers: number
  partitions: number
}): Promise<ChaosCluster> {
  const logDir = mkdtempSync(join(tmpdir(), 'tidings-chaos-'))
  const [kafka, redis] = await Promise.all([startKafka(), startRedis({ appendOnly: true })])
  const topics = {
    loanDecisions: uniqueName('chaos.loan.decisions'),
    notificationsRequested: uniqueName('chaos.notifications.requested'),
    deadLetter: uniqueName('chaos.notifications.dlq'),
  }
  const groupId = uniqueName('chaos-dispatcher')
  // Kubernetes' part: a container that exits by itself is started again (restartPolicy: Always).
  // SIGKILLs the run injects are expected exits and are left to the run; anything else is recorded.
  const crashes: string[] = []
  let stopping = false
  const supervise =
    (name: string, proc: () => ServiceProcess | undefined) =>
    (info: { code: number | null; signal: string | null }, expected: boolean) => {
      if (expected || stopping) return
      crashes.push(`${name} exited by itself (code ${info.code}, signal ${info.signal}); restarted`)
      void proc()
        ?.start()
        .catch((err: unknown) => crashes.push(`${name} did not restart: ${(err as Error).message}`))
    }
  await createTopics(kafka.brokers, [topics.loanDecisions, topics.notificationsRequested], opts.partitions)
  await createTopics(kafka.brokers, [topics.deadLetter], 1)

  const gateways = Array.from({ length: opts.gateways }, (_, i) =>
    serviceProcess({
      name: `gateway-${i + 1}`,
      entry: gatewayEntry,
      env: { ...testGatewayEnv(redis.url, `chaos-gw-${i + 1}`), LOG_LEVEL: 'warn' },
      logDir,
      portEnv: 'PORT',
      readyTimeoutMs: 60_000,
      onExit: supervise(`gateway-${i + 1}`, () => gateways[i]),
    }),
  )
  const dispatchers = Array.from({ length: opts.dispatchers }, (_, i) =>
    serviceProcess({
      name: `dispatcher-${i + 1}`,
      entry: dispatcherEntry,
      env: {
        ...testDispatcherEnv(redis.url, kafka.brokers, topics, groupId, opts.partitions),
        KAFKA_CLIENT_ID: `chaos-dispatcher-${i + 1}`,
        LOG_LEVEL: 'warn',
      },
      logDir,
      portEnv: 'HTTP_PORT',
      readyTimeoutMs: 60_000,
      onExit: supervise(`dispatcher-${i + 1}`, () => dispatchers[i]),
    }),
  )
  const all = () => [...gateways, ...dispatchers]
  const cluster: ChaosCluster = {
    kafka,
    redis,
    gateways,
    dispatchers,
    topic: topics.notificationsRequested,
    logDir,
    crashes,
    gatewayUrls: () => gateways.map((g) => g.baseUrl),
    async killGateway(index) {
      const g = gateways[index] as ServiceProcess
      await g.kill()
      // the pod's replacement: Kubernetes restarts the container within a second or two
      await g.start()
    },
    async killDispatcher(index) {
      await (dispatchers[index] as ServiceProcess).kill()
    },
    restartRedis: () => redis.restart(),
    restartKafka: () => kafka.restart(),
    async stop(keepLogs) {
      stopping = true
      await Promise.allSettled(gateways.map((g) => (g.running ? g.stop() : undefined)))
      await Promise.allSettled(dispatchers.map((d) => (d.running ? d.stop() : undefined)))
      await Promise.allSettled([kafka.stop(), redis.stop()])
      if (!keepLogs) rmSync(logDir, { recursive: true, force: true })
    },
  }
  try {
    const started = await Promise.allSettled(all().map((p) => p.start()))
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    return cluster
  } catch (error) {
    await cluster.stop(true)
    throw error
  }
}
