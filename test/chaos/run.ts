// `pnpm test:chaos`: the full chaos ledger (about 3 minutes on 2 cores). 50,000 uniquely identified
// events for 2,000 SDK clients while a gateway is SIGKILLed 3 times, one of two dispatchers is
// SIGKILLed, Redis (AOF) and the Kafka broker are restarted. Prints the ledger, writes it as JSON to
// test/chaos/results/, exits 1 unless nothing was lost, shown twice, shown out of order or missed.
// Scale with CHAOS_USERS, CHAOS_EVENTS, CHAOS_RATE.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runChaos } from './scenario.ts'

const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const result = await runChaos({
  users: int('CHAOS_USERS', 2000),
  events: int('CHAOS_EVENTS', 50_000),
  ratePerSecond: int('CHAOS_RATE', 400),
  gateways: 3,
  dispatchers: 2,
  partitions: 6,
  faults: ['gateway', 'dispatcher', 'gateway', 'redis', 'gateway', 'kafka'],
  log: (line) => process.stdout.write(`${line}\n`),
})

const dir = join(import.meta.dirname, 'results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)

const row = (k: string, v: string | number) => process.stdout.write(`| ${k} | ${v} |\n`)
process.stdout.write('\n| what | result |\n|---|---|\n')
row('events produced', result.produced)
row('users (SDK clients)', result.users)
row('lost', result.lost)
row('shown twice (after the SDK dedupe)', result.shownTwice)
row('out of order', result.outOfOrder)
row('raw duplicate frames on the wire', result.rawDuplicates)
row('`missed` signals', result.missedSignals)
row(
  'processes that exited by themselves (restarted as a pod would be)',
  result.crashes.length === 0 ? 'none' : result.crashes.join('; '),
)
row(
  'produce → shown p50 / p99 / max',
  `${result.latencyMs.p50} / ${result.latencyMs.p99} / ${result.latencyMs.max} ms`,
)
for (const f of result.faults) {
  row(
    `recovered after ${f.name} (+${Math.round(f.at / 1000)} s)`,
    f.recoveredAfterMs === null ? 'not measured' : `${f.recoveredAfterMs} ms`,
  )
}
process.stdout.write(`\n${result.durationMs} ms; ledger in ${file}\n`)
if (result.lost + result.shownTwice + result.outOfOrder + result.missedSignals > 0) {
  process.stdout.write(`FAILED; logs kept in ${result.logDir}\n${result.examples.join('\n')}\n`)
  process.exit(1)
}
process.exit(0)
