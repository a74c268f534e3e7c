import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AckBatcher } from './acks.ts'
import { FakeClock } from './testing/fakes.ts'

function setup(opts = { intervalMs: 1000, maxBatch: 5 }) {
  const clock = new FakeClock()
  const sent: number[] = []
  let online = true
  const acker = new AckBatcher(opts, clock, (seq) => {
    if (!online) return false
    sent.push(seq)
    return true
  })
  return { clock, sent, acker, setOnline: (v: boolean) => (online = v) }
}

test('acks the highest handled seq once the interval passes', async () => {
  const { clock, sent, acker } = setup()
  acker.handled(1)
  acker.handled(2)
  acker.handled(3)
  assert.deepEqual(sent, [])
  await clock.advance(999)
  assert.deepEqual(sent, [])
  await clock.advance(1)
  assert.deepEqual(sent, [3], 'one cumulative ack')
  await clock.advance(10_000)
  assert.deepEqual(sent, [3], 'nothing new, nothing sent')
})

test('acks at once when the batch is full', () => {
  const { sent, acker } = setup()
  for (let s = 1; s <= 5; s++) acker.handled(s)
  assert.deepEqual(sent, [5])
  for (let s = 6; s <= 10; s++) acker.handled(s)
  assert.deepEqual(sent, [5, 10])
})

test('flush sends now; an unsent ack stays pending', async () => {
  const { clock, sent, acker, setOnline } = setup()
  acker.handled(4)
  setOnline(false)
  acker.flush()
  assert.deepEqual(sent, [])
  assert.equal(acker.waiting, 4)
  setOnline(true)
  acker.flush()
  assert.deepEqual(sent, [4])
  assert.equal(acker.waiting, 0)
  assert.deepEqual(clock.pending(), [], 'no timer left behind')
})

test('old or repeated seqs are ignored; reset forgets; unconfirm does not re-ack at once', () => {
  const { sent, acker } = setup()
  acker.handled(7)
  acker.handled(3)
  acker.flush()
  assert.deepEqual(sent, [7])
  acker.reset()
  acker.handled(2)
  acker.flush()
  assert.deepEqual(sent, [7, 2], 'a new epoch starts from scratch')
  acker.unconfirm()
  acker.flush()
  assert.deepEqual(sent, [7, 2], 'not at once on a new connection: a missed from 0 may follow its welcome')
  acker.handled(9)
  acker.flush()
  assert.deepEqual(sent, [7, 2, 9], 'what the new connection handled is acked as usual')
})

test('a new connection re-acks at the interval only: a flush before it (close on open) or a reset (missed from 0) does not send it', async () => {
  const { clock, sent, acker } = setup()
  acker.handled(4)
  acker.flush()
  acker.unconfirm()
  acker.restoreSoon(4)
  acker.flush()
  assert.deepEqual(sent, [4], 'the stored seq is not sent by a flush before the interval')
  await clock.advance(1000)
  assert.deepEqual(sent, [4, 4], 'at the interval')
  acker.unconfirm()
  acker.restoreSoon(4)
  acker.reset()
  await clock.advance(1000)
  acker.handled(1)
  acker.flush()
  assert.deepEqual(sent, [4, 4, 1], 'reset drops it')
})
