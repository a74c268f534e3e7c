import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_BACKOFF } from './backoff.ts'
import { createRetrySchedule } from './retry-schedule.ts'
import { FakeClock } from './testing/fakes.ts'

const setup = (maxRetries?: number) => {
  const clock = new FakeClock()
  return { clock, schedule: createRetrySchedule(DEFAULT_BACKOFF, maxRetries, clock, () => 0.5) }
}

test('failed attempts grow the full-jitter delay; a session that lived resetAfterMs starts over', async () => {
  const { clock, schedule } = setup()
  assert.deepEqual(
    [0, 1, 2].map(() => schedule.next('backoff', false)),
    [250, 500, 1000],
  )
  assert.equal(schedule.attempt, 3)
  schedule.opened()
  await clock.advance(DEFAULT_BACKOFF.resetAfterMs - 1)
  schedule.closed('backoff')
  assert.equal(schedule.next('backoff', false), 2000, 'a short session does not reset the backoff')
  schedule.opened()
  await clock.advance(DEFAULT_BACKOFF.resetAfterMs)
  schedule.closed('backoff')
  assert.equal(schedule.next('backoff', false), 250, 'a long one does')
})

test('the first 4001 retries at once; a second in a row backs off', () => {
  const { schedule } = setup()
  schedule.closed('reauth')
  assert.equal(schedule.next('reauth', false), 0)
  schedule.closed('reauth')
  assert.equal(schedule.next('reauth', false), 500)
  schedule.opened()
  schedule.closed('reauth')
  assert.equal(schedule.next('reauth', false), 0, 'a welcome ends the streak')
})

test("the server's hint is used once, and only for the connection that got it", () => {
  const { schedule } = setup()
  schedule.hint(1234)
  assert.equal(schedule.next('backoff', false), 1234)
  assert.equal(schedule.next('backoff', false), 500, 'then the backoff again')
  schedule.hint(999)
  schedule.starting()
  assert.equal(schedule.next('hinted', false), 1000, 'a new attempt forgets an older hint')
})

test('maxRetries: undefined once the budget is used up; offline failures are free; welcome refills', () => {
  const { schedule } = setup(1)
  assert.notEqual(schedule.next('backoff', false), undefined)
  assert.notEqual(schedule.next('backoff', true), undefined, 'offline: not counted')
  assert.equal(schedule.next('backoff', false), undefined)
  assert.equal(schedule.failures, 2)
  schedule.opened()
  assert.equal(schedule.failures, 0)
  assert.notEqual(schedule.next('backoff', false), undefined)
})

test('begin() (a new connect()) refills the budget and restarts the backoff; restart() (back online) keeps the budget', () => {
  const { schedule } = setup(1)
  schedule.next('backoff', false)
  assert.equal(schedule.next('backoff', false), undefined, 'gave up')
  schedule.restart()
  assert.equal(schedule.attempt, 0)
  assert.equal(schedule.failures, 2, 'restart() keeps the count')
  schedule.begin()
  assert.equal(schedule.failures, 0)
  assert.equal(schedule.next('backoff', false), 250)
  assert.equal(schedule.next('backoff', false), undefined, 'and maxRetries used up again gives up again')
})
