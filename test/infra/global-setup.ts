// node --test --test-global-setup=<this file>: one Kafka + Redis for the whole run, shared by all test files.
// Verified on Node 24.21: environment variables set here are inherited by the test-file child processes.
import { liveEnvFile } from './env-file.ts'
import { checkGivenInfra, type Infra, startInfra } from './infra.ts'
import { defaultEnvFile } from './paths.ts'

let infra: Infra | undefined

export async function globalSetup(): Promise<void> {
  if (process.env.KAFKA_BROKERS && process.env.REDIS_URL) return checkGivenInfra()
  // Persistent servers from `pnpm infra:up` save the start-up time of every run.
  const persisted =
    !process.env.KAFKA_BROKERS && !process.env.REDIS_URL && (await liveEnvFile(defaultEnvFile))
  if (persisted) {
    Object.assign(process.env, persisted)
    return
  }
  infra = await startInfra()
  process.env.KAFKA_BROKERS = infra.kafkaBrokers.join(',')
  process.env.REDIS_URL = infra.redisUrl
}

export async function globalTeardown(): Promise<void> {
  await infra?.stop()
  infra = undefined
}
