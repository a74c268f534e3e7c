// The end-to-end bench's summary (Markdown) and plots (SVG, lib/svg.ts): latency against rate, CPU per
// notification, memory per socket, p99 per second over the run — Tidings beside the peers.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { StepResult, SystemResult } from '../e2e.ts'
import { renderBarChart, renderLineChart } from './svg.ts'

/** The step of each system at `rate`, or the nearest rate it measured. */
function stepAt(r: SystemResult, rate: number): StepResult | undefined {
  return [...r.steps].sort((a, b) => Math.abs(a.rate - rate) - Math.abs(b.rate - rate))[0]
}

/** CPU roles folded into what the charts compare: the system's own processes, Redis, Kafka. */
function cpuGroups(s: StepResult): { servers: number; dispatcher: number; redis: number; kafka: number } {
  const g = { servers: 0, dispatcher: 0, redis: 0, kafka: 0 }
  for (const [role, v] of Object.entries(s.cpuMicros)) {
    const x = Number.isFinite(v) ? v : 0
    if (role === 'Redis') g.redis += x
    else if (role === 'Kafka') g.kafka += x
    else if (role === 'dispatcher') g.dispatcher += x
    else g.servers += x
  }
  return g
}

const harness = (s: StepResult): string => `${s.harnessMicros.loadgens} + ${s.harnessMicros.producer}`
const busy = (s: StepResult): string => `${Math.round(s.boxBusy * 100)} %`

export function e2eTable(
  results: SystemResult[],
  o: { users: number; servers: number; seconds: number },
): string {
  const lines = [
    `**end to end** (Kafka produce → client receipt; ${o.users} users on ${o.servers} server processes per system, clients do not ack, ${o.seconds} s per rate; CPU = µs per delivered notification above each process's idle floor)`,
    '',
    '| system | rate/s | produced/s | received | lost | backlog at end | p50 ms | p95 ms | p99 ms | max ms | worst 1-s p99 ms | CPU µs/notif. (total) | per process | sustained | load generators + producer µs/notif. | box busy |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |',
  ]
  for (const r of results) {
    if (r.error) lines.push(`| ${r.label} | FAILED: ${r.error} |||||||||||||||`)
    for (const s of r.steps) {
      const l = s.latencyMs
      const worst = Math.max(...s.p99PerSecond.map((b) => b.p99), Number.NEGATIVE_INFINITY)
      const per = Object.entries(s.cpuMicros)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
      lines.push(
        `| ${r.label} | ${s.rate}${s.phase === 'ladder' ? ' (ladder)' : ''} | ${s.producedPerSecond} | ${s.received} | ${s.lost} | ${s.backlogAtEnd} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.max} | ${Number.isFinite(worst) ? worst : '–'} | ${s.cpuMicrosTotal} | ${per} | ${s.sustained ? 'yes' : s.produceErrors ? `**no** (${s.produceErrors} refused by Kafka)` : '**no**'} | ${harness(s)} | ${busy(s)} |`,
      )
    }
  }
  lines.push(
    '',
    '| system | highest rate sustained | clients | connect s | server RSS KiB/socket (no forced GC) |',
    '| --- | ---: | ---: | ---: | ---: |',
  )
  for (const r of results) {
    lines.push(
      `| ${r.label} | ${r.highestSustained || '–'} | ${r.connected} | ${r.connectSeconds} | ${r.rssPerSocketKiB} |`,
    )
  }
  return lines.join('\n')
}

/** Writes the four plots into `dir`; returns their file names. */
export function writeE2ePlots(results: SystemResult[], dir: string, refRate: number): string[] {
  mkdirSync(dir, { recursive: true })
  const ok = results.filter((r) => r.steps.length > 0)
  const names = ok.map((r) => r.label)
  // the rate each system's step nearest to refRate was measured at (one figure when they agree)
  const at = `${[...new Set(ok.map((r) => stepAt(r, refRate)?.rate))].join(' / ')}/s`
  const files: Record<string, string> = {
    'e2e-latency-vs-rate.svg': renderLineChart({
      title: 'p99 latency, Kafka produce → client receipt',
      xLabel: 'notifications per second',
      yLabel: 'p99 latency, ms (log scale)',
      logY: true,
      series: ok.map((r) => ({
        name: r.label,
        points: [...r.steps]
          .sort((a, b) => a.rate - b.rate)
          .map((s) => [s.rate, s.latencyMs.p99] as [number, number]),
      })),
    }),
    'e2e-cpu-per-notification.svg': renderBarChart({
      title: `CPU per notification at ${at}`,
      yLabel: 'µs of CPU per notification',
      categories: names,
      stacked: true,
      series: (['servers', 'dispatcher', 'redis', 'kafka'] as const).map((k) => ({
        name: {
          servers: 'servers (gateways / peers)',
          dispatcher: 'Tidings dispatcher',
          redis: 'Redis',
          kafka: 'Kafka',
        }[k],
        values: ok.map((r) => {
          const s = stepAt(r, refRate)
          return s ? cpuGroups(s)[k] : Number.NaN
        }),
      })),
    }),
    'e2e-memory-per-socket.svg': renderBarChart({
      title: 'Server RSS per connected client (no forced GC)',
      yLabel: 'KiB per socket',
      categories: names,
      series: [{ name: 'RSS KiB/socket', values: ok.map((r) => r.rssPerSocketKiB) }],
    }),
    'e2e-p99-per-second.svg': renderLineChart({
      title: `p99 per second over the run at ${at} (flat = no periodic stall)`,
      xLabel: 'second of the run',
      yLabel: 'p99 latency, ms (log scale)',
      logY: true,
      series: ok.map((r) => ({
        name: r.label,
        points: (stepAt(r, refRate)?.p99PerSecond ?? []).map((b) => [b.second, b.p99] as [number, number]),
      })),
    }),
  }
  for (const [name, svg] of Object.entries(files)) writeFileSync(join(dir, name), svg)
  return Object.keys(files)
}
