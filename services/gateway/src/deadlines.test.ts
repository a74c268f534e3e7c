import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createDeadlineWheel, type Deadlined } from './deadlines.ts'

function fakeSession(deadlines: number[]): Deadlined & { fired: number[] } {
  const s = {
    fired: [] as number[],
    nextDeadline: () => deadlines[0]!,
    onDeadline(now: number) {
      s.fired.push(now)
      deadlines.shift()
      if (deadlines.length) wheel.schedule(s)
    },
  }
  return s
}

let clock = 10_000
const wheel = createDeadlineWheel(1000, () => clock)
wheel.stop() // driven by hand below

test('a deadline never fires early, and a session rescheduling itself from its callback is not lost', () => {
  const s = fakeSession([11_500, 12_200, 12_300])
  wheel.schedule(s)
  clock = 11_100
  wheel.tick()
  assert.deepEqual(s.fired, [])
  clock = 12_000
  wheel.tick()
  assert.deepEqual(s.fired, [12_000])
  clock = 13_000
  wheel.tick()
  assert.deepEqual(s.fired, [12_000, 13_000])
  clock = 14_000
  wheel.tick()
  assert.deepEqual(s.fired, [12_000, 13_000, 14_000])
})

test('a cancelled deadline does not fire; a past deadline fires on the next tick', () => {
  const a = fakeSession([15_000])
  const b = fakeSession([1])
  wheel.schedule(a)
  wheel.schedule(b)
  wheel.cancel(a)
  clock = 16_000
  wheel.tick()
  assert.deepEqual(a.fired, [])
  assert.deepEqual(b.fired, [16_000])
})
