import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type AsyncStorageLike,
  asyncStorageAdapter,
  DEFAULT_STORAGE_KEY,
  localStorageAdapter,
  memoryStorage,
  parseResumeState,
  type StorageLike,
} from './storage.ts'

class FakeStorage implements StorageLike {
  readonly items = new Map<string, string>()
  getItem(key: string) {
    return this.items.get(key) ?? null
  }
  setItem(key: string, value: string) {
    this.items.set(key, value)
  }
  removeItem(key: string) {
    this.items.delete(key)
  }
}

class FakeAsyncStorage implements AsyncStorageLike {
  readonly items = new Map<string, string>()
  async getItem(key: string) {
    await Promise.resolve()
    return this.items.get(key) ?? null
  }
  async setItem(key: string, value: string) {
    await Promise.resolve()
    this.items.set(key, value)
  }
  async removeItem(key: string) {
    await Promise.resolve()
    this.items.delete(key)
  }
}

test('memory storage keeps a copy', async () => {
  const s = memoryStorage()
  assert.equal(await s.load(), null)
  const state = { epoch: 'e1', lastSeq: 4 }
  await s.save(state)
  state.lastSeq = 99
  assert.deepEqual(await s.load(), { epoch: 'e1', lastSeq: 4 })
  await s.clear()
  assert.equal(await s.load(), null)
  assert.deepEqual(await memoryStorage({ epoch: 'x', lastSeq: 1 }).load(), { epoch: 'x', lastSeq: 1 })
})

test('localStorage adapter round-trips JSON under its key', () => {
  const fake = new FakeStorage()
  const s = localStorageAdapter(fake, 'k')
  assert.equal(s.load(), null)
  s.save({ epoch: 'e1', lastSeq: 7, userId: 'u1' })
  assert.deepEqual(JSON.parse(fake.items.get('k')!), { epoch: 'e1', lastSeq: 7, userId: 'u1' })
  assert.deepEqual(s.load(), { epoch: 'e1', lastSeq: 7, userId: 'u1' })
  s.clear()
  assert.equal(fake.items.has('k'), false)
  // default key; corrupt data reads as "no position"
  const d = localStorageAdapter(fake)
  fake.items.set(DEFAULT_STORAGE_KEY, '{not json')
  assert.equal(d.load(), null)
})

test('localStorage adapter without a localStorage fails on use, not on import', () => {
  const s = localStorageAdapter(undefined, 'k')
  if ((globalThis as { localStorage?: unknown }).localStorage) return // a runtime with Web Storage
  assert.throws(() => s.load(), /no localStorage/)
})

test('AsyncStorage adapter round-trips through promises', async () => {
  const fake = new FakeAsyncStorage()
  const s = asyncStorageAdapter(fake, 'rn')
  assert.equal(await s.load(), null)
  await s.save({ epoch: 'e2', lastSeq: 12 })
  assert.equal(fake.items.get('rn'), '{"epoch":"e2","lastSeq":12}')
  assert.deepEqual(await s.load(), { epoch: 'e2', lastSeq: 12 })
  await s.clear()
  assert.equal(await s.load(), null)
})

test('parseResumeState refuses anything that is not a position', () => {
  for (const bad of [
    null,
    1,
    'x',
    '[]',
    { epoch: 1, lastSeq: 1 },
    { epoch: 'e', lastSeq: -1 },
    { epoch: 'e', lastSeq: 1.5 },
  ]) {
    assert.equal(parseResumeState(bad), null, JSON.stringify(bad))
  }
  assert.deepEqual(parseResumeState({ epoch: 'e', lastSeq: 0, userId: 3 }), { epoch: 'e', lastSeq: 0 })
})

test('parseResumeState keeps the id at lastSeq, and positions stored without one (0.1) still load', () => {
  assert.deepEqual(parseResumeState('{"epoch":"e","lastSeq":4,"lastId":"n4","userId":"u"}'), {
    epoch: 'e',
    lastSeq: 4,
    lastId: 'n4',
    userId: 'u',
  })
  assert.deepEqual(parseResumeState({ epoch: 'e', lastSeq: 4 }), { epoch: 'e', lastSeq: 4 })
  // an id that names nothing (no seq yet), or is not a string, is dropped, not the position
  for (const lastId of ['', 7, null])
    assert.deepEqual(parseResumeState({ epoch: 'e', lastSeq: lastId === '' ? 0 : 4, lastId }), {
      epoch: 'e',
      lastSeq: lastId === '' ? 0 : 4,
    })
})
