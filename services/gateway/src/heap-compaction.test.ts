import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, mock, test } from 'node:test'
import {
  COMPACTION_MIN_INTERVAL_MS,
  COMPACTION_WINDOW_MS,
  fullGc,
  HeapCompaction,
} from './heap-compaction.ts'

describe('heap compaction after a burst of sessions (fake clock)', () => {
  let gcs = 0
  const compacted: number[] = []
  const make = (afterSessions: number) =>
    new HeapCompaction({
      afterSessions,
      gc: () => {
        gcs++
      },
      onCompacted: (_pauseMs, sessions) => compacted.push(sessions),
    })
  const churn = (c: HeapCompaction, n: number) => {
    for (let i = 0; i < n; i++) c.churn()
  }
  beforeEach(() => {
    gcs = 0
    compacted.length = 0
    mock.timers.enable({ apis: ['setTimeout'] })
  })
  afterEach(() => {
    mock.timers.reset()
    mock.restoreAll()
  })

  test('a burst of afterSessions, then a quiet window: one full GC, told how many sessions', () => {
    const c = make(3)
    churn(c, 3)
    mock.timers.tick(COMPACTION_WINDOW_MS - 1)
    assert.equal(gcs, 0)
    mock.timers.tick(1)
    assert.equal(gcs, 1)
    assert.deepEqual(compacted, [3])
    mock.timers.tick(10 * COMPACTION_WINDOW_MS)
    assert.equal(gcs, 1)
  })

  test('fewer sessions than afterSessions: never', () => {
    const c = make(1000)
    churn(c, 999)
    mock.timers.tick(100 * COMPACTION_WINDOW_MS)
    assert.equal(gcs, 0)
  })

  test('while the burst goes on (more than afterSessions / 100 per window), it waits for it to end', () => {
    const c = make(1000)
    for (let s = 0; s < 30; s++) {
      churn(c, 200) // 200 connects a second: a storm
      mock.timers.tick(1000)
    }
    assert.equal(gcs, 0)
    mock.timers.tick(2 * COMPACTION_WINDOW_MS)
    assert.deepEqual(compacted, [6000])
  })

  test('a storm, then the trickle a busy pod still sees (a session every 1.5 s): compacts once the storm is over', () => {
    const c = make(1000)
    churn(c, 20_000)
    for (let s = 0; s < 4; s++) {
      mock.timers.tick(1500)
      c.churn()
    }
    assert.equal(gcs, 1, 'within three windows of the storm')
    // an hour of the trickle (2,400 sessions): a compaction per 1,000 of them at most
    for (let s = 0; s < 2400; s++) {
      mock.timers.tick(1500)
      c.churn()
    }
    assert.ok(gcs >= 2 && gcs <= 4, `${gcs} compactions`)
  })

  test('the wall clock stepping back (NTP) does not postpone it', () => {
    const wall = Date.now()
    mock.method(Date, 'now', () => wall - 3_600_000)
    const c = make(3)
    churn(c, 3)
    mock.timers.tick(COMPACTION_WINDOW_MS)
    assert.equal(gcs, 1)
  })

  test('at most one compaction per COMPACTION_MIN_INTERVAL_MS, however many bursts', () => {
    const c = make(3)
    churn(c, 3)
    mock.timers.tick(COMPACTION_WINDOW_MS)
    assert.equal(gcs, 1)
    churn(c, 50) // the next burst, right away
    mock.timers.tick(COMPACTION_MIN_INTERVAL_MS - 1)
    assert.equal(gcs, 1)
    mock.timers.tick(1) // rested: the burst is watched again
    mock.timers.tick(COMPACTION_WINDOW_MS)
    assert.deepEqual(compacted, [3, 50])
  })

  test('stop() cancels a pending compaction and ignores later sessions', () => {
    const c = make(3)
    churn(c, 3)
    c.stop()
    churn(c, 5)
    mock.timers.tick(10 * COMPACTION_WINDOW_MS)
    assert.equal(gcs, 0)
  })

  test('afterSessions must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => make(bad), RangeError)
  })
})

test('fullGc: a full GC that frees what nothing references', async () => {
  const gc = fullGc()
  assert.ok(gc)
  let target: object | undefined = { big: new Array(1000).fill('x') }
  const ref = new WeakRef(target)
  target = undefined
  // a WeakRef's target stays alive until the end of the current job
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  assert.equal(ref.deref(), undefined)
})

test('fullGc: none when V8 flags are frozen (setting one would abort the process)', () => {
  const global = globalThis as { gc?: unknown }
  const exposed = global.gc
  delete global.gc
  try {
    assert.equal(fullGc(['--freeze-flags-after-init']), undefined)
    assert.equal(fullGc(['--freeze_flags_after_init']), undefined)
  } finally {
    if (exposed !== undefined) global.gc = exposed
  }
})
