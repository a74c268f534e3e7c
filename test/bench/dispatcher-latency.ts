// Kafka produce → Redis publish latency: services/dispatcher/bench/latency.ts run as it is, in its own
// process, against the run's Kafka and Redis (KAFKA_BROKERS / REDIS_URL); its JSON line is the result.
import { join } from 'node:path'
import { repoRoot, spawnNode } from './lib/proc.ts'

export interface DispatcherLatencyResult {
  events: number
  perSecond: number
  p50ms: number
  p90ms: number
  p99ms: number
  maxMs: number
}

export async function runDispatcherLatency(o: {
  events: number
  perSecond: number
  logDir: string
}): Promise<DispatcherLatencyResult> {
  const env: Record<string, string> = {}
  for (const k of ['KAFKA_BROKERS', 'REDIS_URL']) {
    const v = process.env[k]
    if (!v) throw new Error(`${k} is not set: run through \`pnpm bench\` (test/infra/cli.ts run)`)
    env[k] = v
  }
  const proc = spawnNode({
    name: 'dispatcher-latency',
    script: join(repoRoot, 'services/dispatcher/bench/latency.ts'),
    args: [String(o.events), String(o.perSecond)],
    env,
    logDir: o.logDir,
  })
  const timer = setTimeout(() => void proc.stop(2000), 120_000)
  const exit = await proc.exited
  clearTimeout(timer)
  const line = proc
    .tail(200)
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{"events"'))
  if (exit.code !== 0 || !line)
    throw new Error(`latency.ts failed (${JSON.stringify(exit)}):\n${proc.tail()}`)
  return JSON.parse(line) as DispatcherLatencyResult
}
