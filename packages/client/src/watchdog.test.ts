import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FakeClock } from './testing/fakes.ts'
import { createWatchdog } from './watchdog.ts'

function setup() {
  const clock = new FakeClock()
  const log: string[] = []
  const dog = createWatchdog(
    clock,
    () => log.push('ping'),
    (silentMs) => log.push(`dead ${silentMs}`),
  )
  return { clock, log, dog }
}

test('one silent heartbeat asks for a pong, two declare the connection dead', async () => {
  const { clock, log, dog } = setup()
  dog.arm(1000)
  await clock.advance(999)
  assert.deepEqual(log, [])
  await clock.advance(1)
  assert.deepEqual(log, ['ping'])
  await clock.advance(999)
  assert.deepEqual(log, ['ping'])
  await clock.advance(1)
  assert.deepEqual(log, ['ping', 'dead 2000'])
  assert.deepEqual(clock.pending(), [], 'nothing left armed')
})

test('activity re-arms: silence is counted from the last frame', async () => {
  const { clock, log, dog } = setup()
  dog.arm(1000)
  await clock.advance(1500) // pinged at 1000
  dog.arm(1000) // the pong (or anything) arrived
  assert.deepEqual(clock.pending(), [1000], 'one timer, a full heartbeat from now')
  await clock.advance(999)
  assert.deepEqual(log, ['ping'])
  await clock.advance(2001)
  assert.deepEqual(log, ['ping', 'ping', 'dead 2000'])
})

test('a heartbeat of 0 disarms, and stop() cancels', async () => {
  const { clock, log, dog } = setup()
  dog.arm(1000)
  dog.arm(0)
  assert.deepEqual(clock.pending(), [])
  dog.arm(500)
  await clock.advance(500)
  dog.stop()
  await clock.advance(10_000)
  assert.deepEqual(log, ['ping'])
})
