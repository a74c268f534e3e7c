// The launcher leaves nothing behind: processes, temp dirs and registry entries are gone after stop(),
// after `cli.ts up` + `cli.ts down`, and after `cli.ts run`.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
import { entriesOwnedBy, identity, processGroup, watchdogsOf } from './fixtures/util.ts'
import { startInfra, waitFor } from './index.ts'
import { ensureKafkaJars, kafkaVersion } from './kafka-jars.ts'
import { freePorts } from './ports.ts'
import { isRunning, self } from './procfs.ts'
import { type Entry, listEntries } from './registry.ts'

const exec = promisify(execFile)
const cli = join(import.meta.dirname, 'cli.ts')

function assertGone(entries: Entry[]): void {
  for (const e of entries) {
    assert.equal(isRunning(identity(e)), false, `${e.kind} pid ${e.pid} still running`)
    assert.equal(existsSync(e.dir), false, `${e.dir} still exists`)
  }
}

/** Runs fn with KAFKA_BROKERS/REDIS_URL unset (the global setup set them for this process). */
async function withoutInfraEnv<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { KAFKA_BROKERS: process.env.KAFKA_BROKERS, REDIS_URL: process.env.REDIS_URL }
  delete process.env.KAFKA_BROKERS
  delete process.env.REDIS_URL
  try {
    return await fn()
  } finally {
    Object.assign(process.env, saved)
  }
}

test('startInfra().stop() stops both servers and the watchdog, removes temp dirs and registry entries', async () => {
  assert.deepEqual(entriesOwnedBy(self.pid), [])
  const infra = await withoutInfraEnv(() => startInfra())
  const entries = entriesOwnedBy(self.pid)
  try {
    assert.deepEqual(entries.map((e) => e.kind).sort(), ['kafka', 'redis'])
    for (const e of entries) {
      assert.ok(isRunning(identity(e)), `${e.kind} running`)
      assert.ok(existsSync(e.dir))
      // Detached: each server leads its own process group, out of reach of a terminal Ctrl-C.
      assert.equal(processGroup(e.pid), e.pid)
      assert.notEqual(processGroup(e.pid), processGroup(process.pid))
    }
    assert.equal(watchdogsOf(self.pid).length, 1)
    assert.deepEqual(infra.kafkaBrokers, [entries.find((e) => e.kind === 'kafka')?.address])
    assert.equal(infra.redisUrl, `redis://${entries.find((e) => e.kind === 'redis')?.address}`)
  } finally {
    await infra.stop()
  }
  assertGone(entries)
  assert.deepEqual(entriesOwnedBy(self.pid), [])
  await waitFor(() => watchdogsOf(self.pid).length === 0, { message: 'watchdog exited' })
  await infra.stop() // idempotent
})

test('startInfra uses KAFKA_BROKERS / REDIS_URL when set and starts nothing', async () => {
  const saved = { KAFKA_BROKERS: process.env.KAFKA_BROKERS, REDIS_URL: process.env.REDIS_URL }
  Object.assign(process.env, { KAFKA_BROKERS: 'k1:9092, k2:9092', REDIS_URL: 'redis://r:6379' })
  try {
    const infra = await startInfra()
    assert.deepEqual(infra.kafkaBrokers, ['k1:9092', 'k2:9092'])
    assert.equal(infra.redisUrl, 'redis://r:6379')
    assert.deepEqual(entriesOwnedBy(self.pid), [])
    await infra.stop()
  } finally {
    Object.assign(process.env, saved)
  }
})

/** An isolated registry (own TIDINGS_CACHE) sharing the real jar cache, and its own env file. */
async function isolatedCache(): Promise<{ env: NodeJS.ProcessEnv; envFile: string; dir: string }> {
  const version = kafkaVersion()
  const jars = await ensureKafkaJars(version)
  const dir = mkdtempSync(join(tmpdir(), 'tidings-infra-test-cache-'))
  symlinkSync(join(jars, '..'), join(dir, `kafka-${version}`))
  const env: NodeJS.ProcessEnv = { ...process.env, TIDINGS_CACHE: dir }
  delete env.KAFKA_BROKERS
  delete env.REDIS_URL
  return { env, envFile: join(dir, 'infra.env'), dir }
}

function registryOf(dir: string): Entry[] {
  const saved = process.env.TIDINGS_CACHE
  process.env.TIDINGS_CACHE = dir
  try {
    return listEntries()
  } finally {
    if (saved === undefined) delete process.env.TIDINGS_CACHE
    else process.env.TIDINGS_CACHE = saved
  }
}

test('cli up leaves working persistent servers; cli down stops them and removes everything', async (t) => {
  const { env, envFile, dir } = await isolatedCache()
  t.after(async () => {
    try {
      await exec(process.execPath, [cli, 'down', '--infra-env', envFile], { env }) // in case an assertion failed
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  const up = await exec(process.execPath, [cli, 'up', '--infra-env', envFile], { env })
  const written = readFileSync(envFile, 'utf8')
  assert.match(written, /^KAFKA_BROKERS=127\.0\.0\.1:\d+\nREDIS_URL=redis:\/\/127\.0\.0\.1:\d+\n$/)
  assert.ok(up.stdout.includes(written))
  const entries = registryOf(dir)
  assert.deepEqual(entries.map((e) => e.kind).sort(), ['kafka', 'redis'])
  for (const e of entries) {
    assert.ok(e.persistent)
    assert.ok(isRunning(identity(e)), `${e.kind} outlived cli up`)
  }

  // They really serve, after their owner (cli up) has exited.
  const values = Object.fromEntries(
    written
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  )
  const redis = new Redis(values.REDIS_URL!)
  assert.equal(await redis.ping(), 'PONG')
  redis.disconnect()
  const admin = new Kafka({ brokers: [values.KAFKA_BROKERS!], logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  assert.equal((await admin.describeCluster()).brokers.length, 1)
  await admin.disconnect()

  const down = await exec(process.execPath, [cli, 'down', '--infra-env', envFile], { env })
  for (const e of entries) assert.match(down.stdout, new RegExp(`stopped ${e.kind} pid ${e.pid} `))
  assertGone(entries)
  assert.deepEqual(registryOf(dir), [])
  assert.equal(existsSync(envFile), false)
})

test('cli run gives the command KAFKA_BROKERS/REDIS_URL, returns its exit code and stops the infra', async (t) => {
  const { env, envFile, dir } = await isolatedCache()
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const script =
    'console.log(JSON.stringify([process.env.KAFKA_BROKERS, process.env.REDIS_URL])); process.exit(7)'
  const result = await exec(
    process.execPath,
    [cli, 'run', '--infra-env', envFile, '--', process.execPath, '-e', script],
    {
      env,
    },
  ).then(
    () => assert.fail('cli run should exit with the command exit code'),
    (error: { code: number; stdout: string }) => error,
  )
  assert.equal(result.code, 7)
  const [brokers, redisUrl] = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as [string, string]
  assert.match(brokers, /^127\.0\.0\.1:\d+$/)
  assert.match(redisUrl, /^redis:\/\/127\.0\.0\.1:\d+$/)
  assert.deepEqual(registryOf(dir), [])
})

test('cli run refuses KAFKA_BROKERS/REDIS_URL that nothing answers at, naming them, and starts nothing', async (t) => {
  const { env, envFile, dir } = await isolatedCache()
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // what a shell that sourced .tidings/infra.env still exports after `pnpm infra:down`
  const [silent] = await freePorts(1)
  const result = await exec(
    process.execPath,
    [cli, 'run', '--infra-env', envFile, '--', process.execPath, '-e', 'console.log("the command ran")'],
    { env: { ...env, KAFKA_BROKERS: `127.0.0.1:${silent}`, REDIS_URL: process.env.REDIS_URL } },
  ).then(
    () => assert.fail('cli run should refuse'),
    (error: { code: number; stdout: string; stderr: string }) => error,
  )
  assert.equal(result.code, 1)
  assert.match(result.stderr, new RegExp(`nothing answers at KAFKA_BROKERS=127\\.0\\.0\\.1:${silent} `))
  assert.doesNotMatch(result.stderr, /REDIS_URL=/, 'the Redis that answers is not reported')
  assert.match(result.stderr, /unset KAFKA_BROKERS REDIS_URL/)
  assert.doesNotMatch(result.stdout, /the command ran/)
  assert.deepEqual(registryOf(dir), [])
})
