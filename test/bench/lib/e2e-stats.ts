// Pure figures of the end-to-end bench (e2e.ts): latency summaries, p99 per second over a run, the
// "sustained without a growing backlog" rule and CPU per notification. No I/O: smoke-tested by
// e2e-stats.test.ts in `pnpm test`.
import { percentile } from './stats.ts'

/** One notification received: when it was produced and how long it took, both in ms. */
export interface Sample {
  /** process.hrtime of the produce call, in ms (one machine: one monotonic clock for every process). */
  sentMs: number
  latencyMs: number
}

export interface LatencySummary {
  count: number
  p50: number
  p95: number
  p99: number
  max: number
}

const r2 = (v: number) => (Number.isFinite(v) ? +v.toFixed(2) : Number.NaN)

export function summarize(latencies: number[]): LatencySummary {
  const s = Array.from(Float64Array.from(latencies).sort())
  return {
    count: s.length,
    p50: r2(percentile(s, 0.5)),
    p95: r2(percentile(s, 0.95)),
    p99: r2(percentile(s, 0.99)),
    max: r2(s[s.length - 1] ?? Number.NaN),
  }
}

export interface SecondBucket {
  /** Whole seconds since the start of the window, by produce time. */
  second: number
  count: number
  p99: number
}

/**
 * p99 latency of the notifications produced in each second of a window: a periodic stall (a sweep, a
 * GC pause) shows as spikes in this series while the window's overall p99 hides where it came from.
 * Seconds in which nothing was produced are left out.
 */
export function p99PerSecond(samples: Sample[], startMs: number): SecondBucket[] {
  const buckets = new Map<number, number[]>()
  for (const x of samples) {
    const sec = Math.floor((x.sentMs - startMs) / 1000)
    if (sec < 0) continue
    const b = buckets.get(sec)
    if (b) b.push(x.latencyMs)
    else buckets.set(sec, [x.latencyMs])
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([second, xs]) => ({ second, count: xs.length, p99: summarize(xs).p99 }))
}

/** Samples produced inside [startMs, endMs): a late arrival of an earlier step is not this step's. */
export function inWindow(samples: Sample[], startMs: number, endMs: number): Sample[] {
  return samples.filter((x) => x.sentMs >= startMs && x.sentMs < endMs)
}

/**
 * A rate is sustained when the system keeps up: at the end of the produce window no more than one
 * second of traffic is still on its way (a backlog that grows through the window ends far above that),
 * and nothing is lost.
 */
export function sustained(o: {
  rate: number
  produced: number
  backlogAtEnd: number
  lost: number
}): boolean {
  return o.lost === 0 && o.backlogAtEnd <= o.rate
}

/**
 * CPU per notification of one process, µs: its CPU time over the step minus its idle floor for the
 * same wall time (timers, GC, Kafka's own housekeeping), divided by the notifications delivered.
 */
export function cpuMicrosPerNotification(o: {
  cpuMs: number
  idleMsPerSecond: number
  wallSeconds: number
  notifications: number
}): number {
  if (o.notifications <= 0) return Number.NaN
  const above = Math.max(0, o.cpuMs - o.idleMsPerSecond * o.wallSeconds)
  return +((above * 1000) / o.notifications).toFixed(1)
}

/** The next rates of the ladder: from `from` in steps of `step`, up to `max` (inclusive). */
export function ladder(from: number, step: number, max: number): number[] {
  const out: number[] = []
  for (let r = from; r <= max && out.length < 1000; r += step) out.push(r)
  return out
}

/** Clients per server process: `users` split evenly, the first `users % servers` taking one more. */
export function usersPerServer(users: number, servers: number): number[] {
  return Array.from(
    { length: servers },
    (_, k) => Math.floor(users / servers) + (k < users % servers ? 1 : 0),
  )
}
