import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Emitter } from './emitter.ts'

interface Events {
  a: number
  b: string
}

test('on() returns an unsubscribe; listeners get the payload', () => {
  const errors: unknown[] = []
  const e = new Emitter<Events>((err) => errors.push(err))
  const got: number[] = []
  const off = e.on('a', (n) => got.push(n))
  const off2 = e.on('a', (n) => got.push(n * 10))
  assert.equal(e.emit('a', 1), undefined, 'sync listeners: no promise')
  off()
  off()
  e.emit('a', 2)
  off2()
  e.emit('a', 3)
  assert.deepEqual(got, [1, 10, 20])
  assert.equal(e.listenerCount('a'), 0)
})

test('async listeners are awaitable; throwing ones are reported, the others still run', async () => {
  const errors: Array<[unknown, string]> = []
  const e = new Emitter<Events>((err, ev) => errors.push([err, ev]))
  const order: string[] = []
  e.on('b', () => {
    throw new Error('sync boom')
  })
  e.on('b', async (s) => {
    await Promise.resolve()
    order.push(`async ${s}`)
  })
  e.on('b', () => Promise.reject(new Error('async boom')))
  e.on('b', (s) => order.push(`sync ${s}`))
  const p = e.emit('b', 'x')
  assert.ok(p instanceof Promise)
  assert.deepEqual(order, ['sync x'])
  await p
  assert.deepEqual(order, ['sync x', 'async x'])
  assert.deepEqual(
    errors.map(([err, ev]) => [(err as Error).message, ev]),
    [
      ['sync boom', 'b'],
      ['async boom', 'b'],
    ],
  )
})
