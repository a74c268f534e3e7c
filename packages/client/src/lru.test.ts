import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LruSet } from './lru.ts'

test('remembers up to capacity and forgets the least recently seen first', () => {
  const lru = new LruSet(3)
  assert.equal(lru.add('a'), true)
  assert.equal(lru.add('b'), true)
  assert.equal(lru.add('c'), true)
  assert.equal(lru.add('a'), false, 'a duplicate is reported')
  lru.add('d') // evicts b: a was refreshed
  assert.equal(lru.has('b'), false)
  assert.deepEqual(
    ['a', 'c', 'd'].map((k) => lru.has(k)),
    [true, true, true],
  )
  assert.equal(lru.size, 3)
})

test('stays bounded under many ids', () => {
  const lru = new LruSet(100)
  for (let i = 0; i < 10_000; i++) lru.add(`id-${i}`)
  assert.equal(lru.size, 100)
  assert.ok(lru.has('id-9999') && lru.has('id-9900') && !lru.has('id-9899'))
  lru.clear()
  assert.equal(lru.size, 0)
})
