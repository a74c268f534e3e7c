import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pauseHeartbeating } from './backoff.ts'

// A backoff longer than the session timeout must heartbeat all along, or the member is evicted.
test('a backoff heartbeats every slice and ends after its time', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  let beats = 0
  const done = pauseHeartbeating(
    9000,
    new AbortController().signal,
    500,
    async () => {
      beats++
    },
    () => false,
  )
  for (let i = 0; i < 18; i++) {
    // let the loop reach its next sleep, then end that sleep
    await new Promise<void>((resolve) => setImmediate(resolve))
    t.mock.timers.tick(500)
  }
  await done
  assert.equal(beats, 18)
})

test('a backoff ends at once on stop or when the partition must be let go of; a rebalance error surfaces', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  const stop = new AbortController()
  let beats = 0
  const beat = async () => {
    beats++
  }
  const stopped = pauseHeartbeating(60_000, stop.signal, 500, beat, () => false)
  await new Promise<void>((resolve) => setImmediate(resolve))
  stop.abort()
  await stopped
  assert.equal(beats, 0)

  let letGo = false
  const released = pauseHeartbeating(60_000, new AbortController().signal, 500, beat, () => letGo)
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.mock.timers.tick(500)
  await new Promise<void>((resolve) => setImmediate(resolve))
  letGo = true
  t.mock.timers.tick(500)
  await released
  assert.equal(beats, 1)

  const rebalancing = pauseHeartbeating(
    60_000,
    new AbortController().signal,
    500,
    async () => {
      throw new Error('The group is rebalancing, so a rejoin is needed')
    },
    () => false,
  )
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.mock.timers.tick(500)
  await assert.rejects(rebalancing, /rebalancing/)
})
