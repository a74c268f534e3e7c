import assert from 'node:assert/strict'
import { test } from 'node:test'
import { uniqueName, waitFor } from './index.ts'

test('waitFor returns the first truthy value', async () => {
  let calls = 0
  const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 })
  assert.deepEqual(value, { calls: 3 })
})

test('waitFor retries a throwing condition and reports message and last error on timeout', async () => {
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('still broken')
      },
      { timeoutMs: 100, intervalMs: 10, message: 'the thing' },
    ),
    /waitFor timed out after 100 ms: the thing \(last error: still broken\)/,
  )
})

test('uniqueName is unique and usable as a Kafka topic name', () => {
  const names = new Set(Array.from({ length: 100 }, () => uniqueName('t')))
  assert.equal(names.size, 100)
  for (const name of names) assert.match(name, /^t-\d+-\d+-[0-9a-f]+$/)
})
