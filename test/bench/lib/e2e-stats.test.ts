// Smoke test of the end-to-end bench's pure figures (run by `pnpm test`; the bench itself is not).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  cpuMicrosPerNotification,
  inWindow,
  ladder,
  p99PerSecond,
  summarize,
  sustained,
  usersPerServer,
} from './e2e-stats.ts'

test('summarize: nearest-rank percentiles of 1..100 ms', () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i) // unsorted on purpose
  assert.deepEqual(summarize(xs), { count: 100, p50: 50, p95: 95, p99: 99, max: 100 })
  assert.ok(Number.isNaN(summarize([]).p99))
})

test('p99PerSecond: a stall in one second shows in that second only', () => {
  const samples = []
  for (let s = 0; s < 5; s++) {
    for (let i = 0; i < 100; i++)
      samples.push({ sentMs: 10_000 + s * 1000 + i * 10, latencyMs: s === 3 ? 800 : 5 })
  }
  samples.push({ sentMs: 9_000, latencyMs: 1 }) // before the window: ignored
  const series = p99PerSecond(samples, 10_000)
  assert.deepEqual(
    series.map((b) => [b.second, b.count, b.p99]),
    [
      [0, 100, 5],
      [1, 100, 5],
      [2, 100, 5],
      [3, 100, 800],
      [4, 100, 5],
    ],
  )
})

test('inWindow keeps only what was produced inside the step', () => {
  const xs = [0, 999, 1000, 1999, 2000].map((sentMs) => ({ sentMs, latencyMs: 1 }))
  assert.deepEqual(
    inWindow(xs, 1000, 2000).map((x) => x.sentMs),
    [1000, 1999],
  )
})

test('sustained: a backlog above one second of traffic, or any loss, is not', () => {
  assert.equal(sustained({ rate: 5000, produced: 50_000, backlogAtEnd: 4000, lost: 0 }), true)
  assert.equal(sustained({ rate: 5000, produced: 50_000, backlogAtEnd: 12_000, lost: 0 }), false)
  assert.equal(sustained({ rate: 5000, produced: 50_000, backlogAtEnd: 0, lost: 3 }), false)
})

test('cpuMicrosPerNotification subtracts the idle floor for the same wall time', () => {
  // 1,200 ms of CPU over 10 s with a 20 ms/s floor = 1,000 ms above the floor for 10,000 notifications
  assert.equal(
    cpuMicrosPerNotification({ cpuMs: 1200, idleMsPerSecond: 20, wallSeconds: 10, notifications: 10_000 }),
    100,
  )
  assert.equal(
    cpuMicrosPerNotification({ cpuMs: 10, idleMsPerSecond: 20, wallSeconds: 10, notifications: 10 }),
    0,
  )
  assert.ok(
    Number.isNaN(
      cpuMicrosPerNotification({ cpuMs: 1, idleMsPerSecond: 0, wallSeconds: 1, notifications: 0 }),
    ),
  )
})

test('ladder is bounded', () => {
  assert.deepEqual(ladder(2000, 1000, 5000), [2000, 3000, 4000, 5000])
  assert.deepEqual(ladder(6000, 1000, 5000), [])
})

test('usersPerServer: every user on exactly one server, counts differing by one at most', () => {
  assert.deepEqual(usersPerServer(10_000, 4), [2500, 2500, 2500, 2500])
  assert.deepEqual(usersPerServer(501, 3), [167, 167, 167])
  assert.deepEqual(usersPerServer(10, 4), [3, 3, 2, 2])
  assert.deepEqual(usersPerServer(1, 2), [1, 0])
})
