// .tidings/infra.env: what `cli.ts up` leaves for later runs (`set -a; . .tidings/infra.env` in a shell,
// or picked up automatically by global-setup.ts and `cli.ts run` while those servers still answer).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname } from 'node:path'

export interface InfraEnv {
  KAFKA_BROKERS: string
  REDIS_URL: string
}

export function writeEnvFile(file: string, env: InfraEnv): string {
  const text = `KAFKA_BROKERS=${env.KAFKA_BROKERS}\nREDIS_URL=${env.REDIS_URL}\n`
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
  return text
}

export function readEnvFile(file: string): InfraEnv | undefined {
  if (!existsSync(file)) return undefined
  const values = new Map<string, string>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*([A-Z_]+)=(.*)$/.exec(line)
    if (match) values.set(match[1]!, match[2]!.trim())
  }
  const KAFKA_BROKERS = values.get('KAFKA_BROKERS')
  const REDIS_URL = values.get('REDIS_URL')
  return KAFKA_BROKERS && REDIS_URL ? { KAFKA_BROKERS, REDIS_URL } : undefined
}

export function removeEnvFile(file: string): void {
  rmSync(file, { force: true })
}

function answers(hostPort: string): Promise<boolean> {
  const { hostname, port } = new URL(`tcp://${hostPort}`)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) })
    socket.setTimeout(500, () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** host:port of each server a setting names (Redis's default port when a URL has none). */
function addressesOf(name: keyof InfraEnv, value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (name === 'KAFKA_BROKERS') return items
  return items.map((item) => {
    const url = new URL(item)
    return url.port ? url.host : `${url.hostname}:6379`
  })
}

/** The servers named by these settings that do not accept connections, as `NAME=address`. */
export async function silentServers(env: Partial<InfraEnv>): Promise<string[]> {
  const checks = (['KAFKA_BROKERS', 'REDIS_URL'] as const).flatMap((name) =>
    env[name] ? addressesOf(name, env[name]).map((address) => ({ name, address })) : [],
  )
  const ok = await Promise.all(checks.map((c) => answers(c.address)))
  return checks.filter((_, i) => !ok[i]).map((c) => `${c.name}=${c.address}`)
}

/** The env file's values when every server it names accepts connections (a stale file is ignored). */
export async function liveEnvFile(file: string): Promise<InfraEnv | undefined> {
  const env = readEnvFile(file)
  if (!env) return undefined
  return (await silentServers(env)).length === 0 ? env : undefined
}
