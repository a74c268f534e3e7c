import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ceiling,
  closePolicy,
  DEFAULT_BACKOFF,
  equalJitter,
  fullJitter,
  type ResolvedBackoff,
  reconnectDelay,
} from './backoff.ts'

/** A deterministic stream of "random" numbers covering the edges of [0, 1). */
function randoms(): Array<() => number> {
  let s = 42
  const lcg = () => {
    s = (s * 1664525 + 1013904223) % 2 ** 32
    return s / 2 ** 32
  }
  return [() => 0, () => 0.5, () => 0.999999999, () => 1, lcg, lcg, lcg, lcg, lcg, lcg]
}

test('full jitter stays within [0, min(cap, base·2^attempt)] for every attempt', () => {
  const configs: Array<[number, number]> = [
    [500, 30_000],
    [1, 10],
    [100, 100],
    [0, 1000],
    [250, 3_600_000],
  ]
  for (const [base, cap] of configs) {
    for (const random of randoms()) {
      for (let attempt = 0; attempt < 200; attempt++) {
        const d = fullJitter(attempt, base, cap, random)
        const hi = Math.min(cap, base * 2 ** attempt)
        assert.ok(Number.isInteger(d), `integer delay, got ${d}`)
        assert.ok(d >= 0 && d <= hi, `attempt ${attempt} base ${base} cap ${cap}: ${d} ∉ [0, ${hi}]`)
      }
    }
  }
})

test('full jitter uses the whole range (it is jitter, not a constant)', () => {
  assert.equal(
    fullJitter(3, 500, 30_000, () => 0),
    0,
  )
  assert.equal(
    fullJitter(3, 500, 30_000, () => 0.5),
    2000,
  )
  assert.equal(
    fullJitter(3, 500, 30_000, () => 1),
    4000,
  )
  assert.equal(
    fullJitter(30, 500, 30_000, () => 0.5),
    15_000,
  )
  // garbage from an injected random does not escape the range
  assert.equal(
    fullJitter(1, 500, 30_000, () => Number.NaN),
    0,
  )
  assert.equal(
    fullJitter(1, 500, 30_000, () => 7),
    1000,
  )
  assert.equal(ceiling(10_000, 500, 30_000), 30_000)
})

test('equal jitter (the "back off longer" policy) stays within [c/2, c]', () => {
  for (const random of randoms()) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const c = Math.min(300_000, 5000 * 2 ** attempt)
      const d = equalJitter(attempt, 5000, 300_000, random)
      assert.ok(d >= c / 2 - 1 && d <= c, `${d} ∉ [${c / 2}, ${c}]`)
    }
  }
})

test('close-code policy table', () => {
  const table: Record<number, ReturnType<typeof closePolicy>> = {
    1000: 'backoff',
    1001: 'backoff',
    1006: 'backoff',
    1011: 'backoff',
    1003: 'client_bug',
    1007: 'client_bug',
    1008: 'client_bug',
    1009: 'client_bug',
    1012: 'hinted',
    1013: 'slow',
    4001: 'reauth',
    4008: 'slow',
    4029: 'slow',
    4999: 'backoff',
  }
  for (const [code, policy] of Object.entries(table))
    assert.equal(closePolicy(Number(code)), policy, `code ${code}`)
})

test('reconnect delay honours the server hint, custom base/cap, and the policies', () => {
  const opts: ResolvedBackoff = { ...DEFAULT_BACKOFF }
  const r = () => 0.5
  const base = { attempt: 4, hintMs: undefined, unauthorizedStreak: 0 }
  // hinted: exactly the server's afterMs, whatever the attempt and the close code
  assert.equal(reconnectDelay({ ...base, policy: 'hinted', hintMs: 1234 }, opts, r), 1234)
  assert.equal(reconnectDelay({ ...base, policy: 'backoff', hintMs: 77 }, opts, r), 77)
  assert.equal(reconnectDelay({ ...base, policy: 'hinted', hintMs: -5 }, opts, r), 0)
  assert.equal(reconnectDelay({ ...base, policy: 'hinted', hintMs: 1e12 }, opts, r), opts.slowCapMs)
  // 1012 without a `reconnect` frame: plain backoff
  assert.equal(reconnectDelay({ ...base, policy: 'hinted' }, opts, r), 4000)
  // custom base/cap
  for (let attempt = 0; attempt < 50; attempt++) {
    const d = reconnectDelay(
      { ...base, attempt, policy: 'backoff' },
      { ...opts, baseMs: 10, capMs: 100 },
      () => 1,
    )
    assert.equal(d, Math.min(100, 10 * 2 ** attempt))
  }
  // reauth: the first rejection retries at once (with a fresh token), the next ones back off
  assert.equal(reconnectDelay({ ...base, policy: 'reauth', unauthorizedStreak: 1 }, opts, r), 0)
  assert.equal(reconnectDelay({ ...base, policy: 'reauth', unauthorizedStreak: 2 }, opts, r), 4000)
  // slow and client bugs never retry quickly
  for (const policy of ['slow', 'client_bug'] as const) {
    for (let attempt = 0; attempt < 30; attempt++) {
      const d = reconnectDelay({ ...base, attempt, policy }, opts, () => 0)
      assert.ok(d >= opts.slowBaseMs / 2, `${policy} attempt ${attempt}: ${d}`)
    }
  }
})
