import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TidingsError } from './errors.ts'
import { createResumePosition } from './resume.ts'
import { memoryStorage, type ResumeState, type ResumeStorage } from './storage.ts'
import { settle } from './testing/fakes.ts'

/** A storage whose writes stay pending until released, recording what was written. */
function slowStorage(initial: unknown = null) {
  const writes: Array<ResumeState | null> = []
  const release: Array<() => void> = []
  let loads = 0
  const storage: ResumeStorage = {
    load: async () => {
      loads++
      return initial as ResumeState
    },
    save: (s) => {
      writes.push(s)
      return new Promise<void>((r) => release.push(r))
    },
    clear: () => {
      writes.push(null)
      return new Promise<void>((r) => release.push(r))
    },
  }
  return { storage, writes, release, loads: () => loads }
}

test('loads once; an unreadable position means none', async () => {
  const s = slowStorage({ epoch: 'e1', lastSeq: -4 })
  const resume = createResumePosition(s.storage, () => undefined)
  await Promise.all([resume.load(), resume.load()])
  await resume.load()
  assert.equal(s.loads(), 1)
  assert.equal(resume.current, null)
})

test('writes are coalesced: one in flight, then the latest value', async () => {
  const s = slowStorage()
  const resume = createResumePosition(s.storage, () => undefined)
  resume.enterEpoch('e1')
  resume.claim('u1')
  for (const seq of [1, 2, 3]) resume.advance(seq, `n${seq}`)
  assert.deepEqual(s.writes, [{ epoch: 'e1', lastSeq: 0, userId: 'u1' }], 'the first write is in flight')
  assert.ok(resume.writing)
  s.release.shift()?.()
  await settle()
  assert.deepEqual(
    s.writes.at(-1),
    { epoch: 'e1', lastSeq: 3, lastId: 'n3', userId: 'u1' },
    'then only the latest',
  )
  assert.equal(s.writes.length, 2)
  s.release.shift()?.()
  await resume.writing
  assert.equal(resume.writing, undefined)
})

test('epochs, users, advancing and rewinding', async () => {
  const storage = memoryStorage({ epoch: 'e1', lastSeq: 7, userId: 'u1' })
  const resume = createResumePosition(storage, () => undefined)
  await resume.load()
  assert.equal(resume.belongsToAnother('u1'), false)
  assert.equal(resume.belongsToAnother('u2'), true)
  assert.equal(resume.enterEpoch('e1'), false, 'same epoch: the position stands')
  assert.equal(resume.advance(7, 'n7'), false, 'not ahead')
  assert.equal(resume.advance(9, 'n9'), true)
  assert.deepEqual(resume.current, { epoch: 'e1', lastSeq: 9, lastId: 'n9', userId: 'u1' })
  assert.equal(resume.rewind(12), false, 'not behind')
  assert.equal(resume.rewind(4), true)
  assert.deepEqual(resume.current, { epoch: 'e1', lastSeq: 4, userId: 'u1' }, 'the id at 4 is not known')
  assert.equal(resume.enterEpoch('e2'), true, 'another epoch starts at 0')
  assert.deepEqual(resume.current, { epoch: 'e2', lastSeq: 0 })
  resume.claim(undefined)
  await resume.writing
  assert.deepEqual(await storage.load(), { epoch: 'e2', lastSeq: 0 })
  resume.forget()
  assert.equal(resume.advance(10, 'n10'), false, 'no position, nothing to advance')
  assert.deepEqual(resume.ensure('e3'), { epoch: 'e3', lastSeq: 0 })
  await resume.writing
  assert.equal(await storage.load(), null)
})

test('storage failures are reported, never thrown', async () => {
  const errors: TidingsError[] = []
  const resume = createResumePosition(
    {
      load: () => {
        throw new Error('corrupt')
      },
      save: () => Promise.reject(new Error('quota')),
      clear: () => undefined,
    },
    (e) => errors.push(e),
  )
  await resume.load()
  resume.ensure('e1')
  resume.advance(1, 'n1')
  await resume.writing
  assert.deepEqual(
    errors.map((e) => [e.kind, e.message]),
    [
      ['storage', 'loading the resume position failed'],
      ['storage', 'saving the resume position failed'],
    ],
  )
})

test('a storage that throws synchronously (localStorage over quota) is reported and later writes still happen', async () => {
  const errors: TidingsError[] = []
  const writes: unknown[] = []
  let full = true
  const resume = createResumePosition(
    {
      load: () => null,
      save: (s) => {
        if (full) throw new Error('QuotaExceededError')
        writes.push(s)
      },
      clear: () => undefined,
    },
    (e) => errors.push(e),
  )
  await resume.load()
  resume.enterEpoch('e1')
  resume.claim('u1')
  await settle()
  assert.deepEqual(
    errors.map((e) => e.message),
    ['saving the resume position failed'],
  )
  // A write that failed synchronously must not stay "in flight" for ever: close() and flush() wait
  // for it, in a loop that would never yield again.
  assert.equal(resume.writing, undefined, 'no write in flight after the failure')
  full = false
  resume.advance(1, 'n1')
  await settle()
  assert.deepEqual(
    writes,
    [{ epoch: 'e1', lastSeq: 1, lastId: 'n1', userId: 'u1' }],
    'the next position is written',
  )
})
