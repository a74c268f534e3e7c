// node test/infra/cli.ts up | down | run -- <cmd...>
//   up    start persistent Kafka + Redis, write .tidings/infra.env, exit leaving them running
//   down  stop persistent servers and whatever dead owners left behind (registry), remove infra.env
//   run   start Kafka + Redis for one command, pass KAFKA_BROKERS/REDIS_URL, stop them whatever happens
// --infra-env <path> replaces .tidings/infra.env (the harness's own tests use it to stay isolated).
import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { liveEnvFile, removeEnvFile, writeEnvFile } from './env-file.ts'
import { checkGivenInfra, type Infra, startInfra } from './infra.ts'
import { defaultEnvFile } from './paths.ts'
import { reapPersistentAndStale } from './reaper.ts'

const usage = 'usage: node test/infra/cli.ts up | down | run -- <command> [args...]   [--infra-env <path>]'

async function up(envFile: string): Promise<number> {
  const live = await liveEnvFile(envFile)
  if (live) {
    process.stdout.write(`already up (${envFile}):\n${writeEnvFile(envFile, live)}`)
    return 0
  }
  const infra = await startInfra({ persistentFor: envFile })
  const text = writeEnvFile(envFile, {
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    REDIS_URL: infra.redisUrl,
  })
  process.stdout.write(`${text}# written to ${envFile}; stop with: node test/infra/cli.ts down\n`)
  return 0
}

async function down(envFile: string): Promise<number> {
  const stopped = await reapPersistentAndStale(envFile)
  removeEnvFile(envFile)
  for (const e of stopped) {
    const kind = e.persistent ? 'persistent' : `stale, owner ${e.owner.pid} gone`
    console.log(`stopped ${e.kind} pid ${e.pid} ${e.address} (${kind}), removed ${e.dir}`)
  }
  if (stopped.length === 0) console.log('nothing to stop')
  return 0
}

async function run(command: string[], envFile: string): Promise<number> {
  if (command.length === 0) throw new Error(usage)
  let infra: Infra | undefined
  // Ctrl-C while the servers start: exit now, the watchdog stops whatever was started.
  const early = (signal: NodeJS.Signals) => process.exit(128 + constants.signals[signal])
  process.on('SIGINT', early).on('SIGTERM', early)
  await checkGivenInfra()
  const persisted = !process.env.KAFKA_BROKERS && !process.env.REDIS_URL && (await liveEnvFile(envFile))
  const env = { ...process.env }
  if (persisted) Object.assign(env, persisted)
  else {
    infra = await startInfra()
    env.KAFKA_BROKERS = infra.kafkaBrokers.join(',')
    env.REDIS_URL = infra.redisUrl
  }
  process.off('SIGINT', early).off('SIGTERM', early)
  try {
    const [file, ...args] = command as [string, ...string[]]
    // Same process group as us: a terminal Ctrl-C reaches the command directly too; a signal sent to
    // this process alone (CI timeouts) is forwarded.
    const child = spawn(file, args, { stdio: 'inherit', env })
    const forward = (signal: NodeJS.Signals) => child.kill(signal)
    process.on('SIGINT', forward).on('SIGTERM', forward)
    return await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        console.error(`cannot run ${file}: ${error.message}`)
        resolve(127)
      })
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)))
    })
  } finally {
    await infra?.stop()
  }
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { 'infra-env': { type: 'string' } },
  })
  // absolute: persistent servers remember it, and `down` from another directory must match it
  const envFile = resolve(values['infra-env'] ?? defaultEnvFile)
  const [verb, ...rest] = positionals
  if (verb === 'up' && rest.length === 0) return up(envFile)
  if (verb === 'down' && rest.length === 0) return down(envFile)
  if (verb === 'run') return run(rest, envFile)
  console.error(usage)
  return 2
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  },
)
