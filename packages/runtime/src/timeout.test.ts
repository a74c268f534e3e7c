import assert from 'node:assert/strict'
import { test } from 'node:test'
import { withTimeout } from './timeout.ts'

const never = new Promise<never>(() => {})

test('the work settles first: its value or its error, and the timer is gone', async () => {
  assert.equal(await withTimeout(Promise.resolve(1), 60_000, () => 2), 1)
  await assert.rejects(
    withTimeout(Promise.reject(new Error('boom')), 60_000, () => 2),
    /boom/,
  )
  // a 60 s timer left pending would hold this file's process for a minute (no --test-force-exit here)
})

test('the timer fires first: the fallback value, or the fallback’s error', async () => {
  assert.equal(await withTimeout(never, 1, () => false), false)
  await assert.rejects(
    withTimeout(never, 1, () => {
      throw new Error('query timed out')
    }),
    /query timed out/,
  )
})

test('a work that rejects after the timeout is not an unhandled rejection', async () => {
  let fail: (err: Error) => void = () => {}
  const late = new Promise<number>((_, reject) => {
    fail = reject
  })
  assert.equal(await withTimeout(late, 1, () => 0), 0)
  fail(new Error('late'))
  await new Promise((resolve) => setImmediate(resolve))
})
