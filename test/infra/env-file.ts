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

/** The env file's values when every server it names accepts connections (a stale file is ignored). */
export async function liveEnvFile(file: string): Promise<InfraEnv | undefined> {
  const env = readEnvFile(file)
  if (!env) return undefined
  const addresses = [...env.KAFKA_BROKERS.split(','), new URL(env.REDIS_URL).host]
  const ok = await Promise.all(addresses.map(answers))
  return ok.every(Boolean) ? env : undefined
}
