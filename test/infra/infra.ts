// Kafka + Redis for a test run: started here, or taken from KAFKA_BROKERS / REDIS_URL when those are set
// (docker compose, a cloud cluster, `pnpm infra:up`).
import { silentServers } from './env-file.ts'
import { launchKafka } from './kafka.ts'
import { launchRedis } from './redis.ts'

export interface Infra {
  kafkaBrokers: string[]
  redisUrl: string
  stop(): Promise<void>
}

export interface StartInfraOptions {
  kafka?: boolean
  redis?: boolean
  /**
   * Leave the servers running after this process exits (`cli.ts up`): they belong to this env file,
   * and `cli.ts down` with the same file stops them.
   */
  persistentFor?: string
}

function brokersFrom(value: string): string[] {
  return value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
}

/**
 * For the entry points (cli.ts run, the global setup, the stack): KAFKA_BROKERS / REDIS_URL the
 * caller set must answer. A shell that sourced .tidings/infra.env still
 * exports them after `pnpm infra:down`: without this, every test would fail on its own ECONNREFUSED.
 */
export async function checkGivenInfra(): Promise<void> {
  const { KAFKA_BROKERS, REDIS_URL } = process.env
  const silent = await silentServers({ KAFKA_BROKERS, REDIS_URL })
  if (silent.length === 0) return
  throw new Error(
    `nothing answers at ${silent.join(', ')} (set in the environment). Left over from ` +
      '`set -a; . .tidings/infra.env` after `pnpm infra:down`? `unset KAFKA_BROKERS REDIS_URL` and the ' +
      'run starts its own Kafka and Redis; or start the servers they name.',
  )
}

/** Starts what is asked for and not provided by the environment, Kafka and Redis concurrently. */
export async function startInfra(opts: StartInfraOptions = {}): Promise<Infra> {
  const { kafka = true, redis = true, persistentFor } = opts
  const envBrokers = process.env.KAFKA_BROKERS
  const envRedis = process.env.REDIS_URL
  const [k, r] = await Promise.allSettled([
    envBrokers || !kafka ? undefined : launchKafka({ persistentFor }),
    envRedis || !redis ? undefined : launchRedis({ persistentFor }),
  ])
  const stop = async () => {
    await Promise.all([
      k.status === 'fulfilled' ? k.value?.stop() : undefined,
      r.status === 'fulfilled' ? r.value?.stop() : undefined,
    ])
  }
  if (k.status === 'rejected' || r.status === 'rejected') {
    await stop()
    const errors = [k, r].flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []))
    throw errors.length === 1
      ? errors[0]
      : new AggregateError(errors, errors.map((e) => e.message).join('\n'))
  }
  return {
    kafkaBrokers: envBrokers ? brokersFrom(envBrokers) : (k.value?.brokers ?? []),
    redisUrl: envRedis || (r.value?.url ?? ''),
    stop,
  }
}

function required(name: 'KAFKA_BROKERS' | 'REDIS_URL'): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(
      `${name} is not set. Run tests through the global setup (node --test --test-global-setup=test/infra/global-setup.ts), ` +
        `\`pnpm test\` or \`node test/infra/cli.ts run -- <cmd>\`, or export ${name} yourself ` +
        '(`pnpm infra:up` writes .tidings/infra.env).',
    )
  }
  return value
}

/** For test files: the infra the global setup (or the caller's environment) provides. */
export function infraFromEnv(): { kafkaBrokers: string[]; redisUrl: string } {
  return { kafkaBrokers: brokersFrom(required('KAFKA_BROKERS')), redisUrl: required('REDIS_URL') }
}
