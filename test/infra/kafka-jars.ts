// The broker is a set of jars from Maven Central (kafka/pom.xml), cached per version under
// ${TIDINGS_CACHE}/kafka-<version>/libs. Maven downloads into a temp dir that is renamed into place only
// when complete, so a killed download never leaves a half cache behind.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { cacheRoot } from './paths.ts'

const execFileAsync = promisify(execFile)
/** Maven colours its output even with -B and style.color=never in some versions. */
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g')

export const defaultKafkaVersion = '3.9.1'

export function kafkaVersion(): string {
  const version = process.env.TIDINGS_KAFKA_VERSION || defaultKafkaVersion
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(`TIDINGS_KAFKA_VERSION must look like 3.9.1, got "${version}"`)
  return version
}

/** Kafka 4 moved from log4j 1 to log4j2: the pom has one profile per logging binding. */
export function kafkaMajor(version: string): number {
  return Number(version.split('.')[0])
}

/** Temp dirs of downloads whose process is gone (libs.tmp-<pid>-<random>). */
function removeAbandonedDownloads(base: string): void {
  for (const name of readdirSync(base)) {
    const pid = Number(/^libs\.tmp-(\d+)-/.exec(name)?.[1])
    if (!pid) continue
    try {
      process.kill(pid, 0)
    } catch {
      rmSync(join(base, name), { recursive: true, force: true })
    }
  }
}

async function download(version: string, base: string, libs: string): Promise<void> {
  mkdirSync(base, { recursive: true })
  removeAbandonedDownloads(base)
  const tmp = join(base, `libs.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  const args = [
    '-B',
    '-q',
    '-Dstyle.color=never',
    '-f',
    join(import.meta.dirname, 'kafka', 'pom.xml'),
    `-Dkafka.version=${version}`,
    kafkaMajor(version) >= 4 ? '-Plog4j2' : '-Preload4j',
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${tmp}`,
  ]
  try {
    await execFileAsync('mvn', args, { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 })
    if (!existsSync(join(tmp, `kafka_2.13-${version}.jar`)))
      throw new Error(`kafka_2.13-${version}.jar missing`)
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true })
    if (readdirSync(base).length === 0) rmSync(base, { recursive: true, force: true }) // e.g. a mistyped version
    const e = error as { stdout?: string; stderr?: string; message: string }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`
      .replace(ansi, '')
      .trim()
      .split('\n')
      .slice(-30)
      .join('\n')
    throw new Error(`fetching Kafka ${version} jars with Maven failed: ${e.message}\n${output}`, {
      cause: error,
    })
  }
  try {
    renameSync(tmp, libs)
  } catch (error) {
    // A concurrent run finished first: its copy is as good as ours.
    rmSync(tmp, { recursive: true, force: true })
    if (!existsSync(libs)) throw error
  }
}

const pending = new Map<string, Promise<string>>()

/** The directory holding the broker's jars for this version, downloading them on first use. */
export function ensureKafkaJars(version: string): Promise<string> {
  const base = join(cacheRoot(), `kafka-${version}`)
  const libs = join(base, 'libs')
  if (existsSync(libs)) return Promise.resolve(libs)
  let promise = pending.get(libs)
  if (!promise) {
    promise = download(version, base, libs).then(() => libs)
    promise.catch(() => pending.delete(libs))
    pending.set(libs, promise)
  }
  return promise
}
