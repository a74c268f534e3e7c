import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, mock, test } from 'node:test'
import { COMPACTION_QUIET_MS, fullGc, HeapCompaction } from './heap-compaction.ts'

describe('heap compaction after a burst of sessions (fake clock)', () => {
  let gcs = 0
  const compacted: number[] = []
  const make = (afterSessions = 3) =>
    new HeapCompaction({
      afterSessions,
      gc: () => {
        gcs++
      },
      onCompacted: (_pauseMs, sessions) => compacted.push(sessions),
    })
  beforeEach(() => {
    gcs = 0
    compacted.length = 0
    mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  })
  afterEach(() => mock.timers.reset())

  test('a burst of afterSessions, then quiet: one full GC, told how many sessions', () => {
    const c = make(3)
    for (let i = 0; i < 3; i++) c.churn()
    mock.timers.tick(COMPACTION_QUIET_MS - 1)
    assert.equal(gcs, 0)
    mock.timers.tick(1)
    assert.equal(gcs, 1)
    assert.deepEqual(compacted, [3])
    mock.timers.tick(10 * COMPACTION_QUIET_MS)
    assert.equal(gcs, 1)
  })

  test('fewer sessions than afterSessions: never', () => {
    const c = make(3)
    c.churn()
    c.churn()
    mock.timers.tick(100 * COMPACTION_QUIET_MS)
    assert.equal(gcs, 0)
  })

  test('while sessions keep opening or closing, it waits for them to stop', () => {
    const c = make(3)
    for (let i = 0; i < 3; i++) c.churn()
    for (let i = 0; i < 10; i++) {
      mock.timers.tick(COMPACTION_QUIET_MS - 100)
      c.churn()
    }
    assert.equal(gcs, 0)
    mock.timers.tick(COMPACTION_QUIET_MS)
    assert.deepEqual(compacted, [13])
  })

  test('the next burst counts from zero again', () => {
    const c = make(3)
    for (let i = 0; i < 3; i++) c.churn()
    mock.timers.tick(COMPACTION_QUIET_MS)
    c.churn()
    c.churn()
    mock.timers.tick(10 * COMPACTION_QUIET_MS)
    assert.equal(gcs, 1)
    c.churn()
    mock.timers.tick(COMPACTION_QUIET_MS)
    assert.deepEqual(compacted, [3, 3])
  })

  test('stop() cancels a pending compaction and ignores later sessions', () => {
    const c = make(3)
    for (let i = 0; i < 3; i++) c.churn()
    c.stop()
    for (let i = 0; i < 5; i++) c.churn()
    mock.timers.tick(10 * COMPACTION_QUIET_MS)
    assert.equal(gcs, 0)
  })

  test('afterSessions must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => make(bad), RangeError)
  })
})

test('fullGc: a full GC that frees what nothing references', async () => {
  const gc = fullGc()
  let target: object | undefined = { big: new Array(1000).fill('x') }
  const ref = new WeakRef(target)
  target = undefined
  // a WeakRef's target stays alive until the end of the current job
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  assert.equal(ref.deref(), undefined)
})
