import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AckBatcher } from './acks.ts'
import { createDeliveryQueue } from './delivery-queue.ts'
import { Emitter } from './emitter.ts'
import type { TidingsError } from './errors.ts'
import type { MissedEvent, SessionInfo, TidingsEvents } from './events.ts'
import { createResumePosition } from './resume.ts'
import { memoryStorage, type ResumeState } from './storage.ts'
import { FakeClock, settle } from './testing/fakes.ts'
import { note } from './testing/harness.ts'
import type { NotificationFrame } from './wire.ts'

function setup(opts: { stored?: ResumeState; onNotification?: (n: NotificationFrame) => unknown } = {}) {
  const clock = new FakeClock()
  const storage = memoryStorage(opts.stored)
  const errors: TidingsError[] = []
  const report = (e: TidingsError) => errors.push(e)
  const resume = createResumePosition(storage, report)
  const acked: number[] = []
  const acks = new AckBatcher({ intervalMs: 100, maxBatch: 100 }, clock, (seq) => acked.push(seq) > 0)
  const emitter = new Emitter<TidingsEvents>(() => undefined)
  const missed: MissedEvent[] = []
  emitter.on('missed', (m) => missed.push(m))
  const session: SessionInfo = {
    url: 'wss://gw',
    sessionId: 's',
    userId: 'u1',
    epoch: 'e1',
    heartbeatMs: 0,
    transport: 'websocket',
  }
  const link = {
    running: true,
    session: session as SessionInfo | undefined,
    adoptEpoch: (epoch: string) => {
      session.epoch = epoch
    },
  }
  const handled: number[] = []
  const queue = createDeliveryQueue({
    resume,
    acks,
    emitter,
    report,
    onNotification:
      opts.onNotification ??
      ((n) => {
        handled.push(n.seq)
      }),
    link,
    dedupeSize: 10,
  })
  return { clock, storage, resume, acks, acked, queue, link, session, handled, missed, errors }
}

test('one at a time, in order: the next waits for the handler; then the position and the ack advance', async () => {
  const order: string[] = []
  let release!: () => void
  const t = setup({
    onNotification: async (n) => {
      order.push(`start ${n.seq}`)
      if (n.seq === 1) await new Promise<void>((r) => (release = r))
      order.push(`end ${n.seq}`)
    },
  })
  await t.resume.load()
  t.queue.enqueue({ type: 'welcome', epoch: 'e1', userId: 'u1' })
  t.queue.enqueue(note(1))
  t.queue.enqueue(note(2))
  await settle()
  assert.deepEqual(order, ['start 1'])
  assert.deepEqual(t.resume.current, { epoch: 'e1', lastSeq: 0, userId: 'u1' })
  release()
  await t.queue.idle
  assert.deepEqual(order, ['start 1', 'end 1', 'start 2', 'end 2'])
  assert.equal(t.resume.current?.lastSeq, 2)
  await t.clock.advance(100)
  assert.deepEqual(t.acked, [2])
  assert.equal(t.queue.idle, undefined)
})

test('dedupes by seq and by id; a throwing handler is reported and still counts as handled', async () => {
  const ids: string[] = []
  const t = setup({
    onNotification: (n) => {
      ids.push(n.id)
      if (n.id === 'boom') throw new Error('app bug')
    },
  })
  for (const n of [note(1, 'a'), note(2, 'a'), note(2, 'b'), note(3, 'boom')]) t.queue.enqueue(n)
  t.queue.enqueue(note(4, 'c'))
  await t.queue.idle
  t.queue.forgetSeen() // forgets ids, not the position
  t.queue.enqueue(note(4, 'c'))
  await t.queue.idle
  assert.deepEqual(ids, ['a', 'boom', 'c'], 'a repeated id or seq is not handled again')
  assert.deepEqual(
    t.errors.map((e) => e.kind),
    ['handler'],
  )
  assert.equal(t.resume.current?.lastSeq, 4)
})

test('welcome in the stored epoch re-acks the stored position within the ack interval; another epoch starts over', async () => {
  const t = setup({ stored: { epoch: 'e1', lastSeq: 5 } })
  await t.resume.load()
  t.queue.enqueue({ type: 'welcome', epoch: 'e1', userId: 'u1' })
  await t.queue.idle
  assert.deepEqual(t.acked, [], 'not at once: a missed from 0 may follow')
  await t.clock.advance(100)
  assert.deepEqual(t.acked, [5], 'acked at the interval')
  t.queue.enqueue({ type: 'welcome', epoch: 'e2', userId: 'u1' })
  await t.queue.idle
  assert.deepEqual(t.resume.current, { epoch: 'e2', lastSeq: 0, userId: 'u1' })
  await t.clock.advance(1000)
  assert.deepEqual(t.acked, [5], 'nothing of the old epoch is acked')
})

test('welcome then missed from 0 in the same epoch (Redis reused the seqs up to the stored one): the stored seq is never acked', async () => {
  const t = setup({ stored: { epoch: 'e1', lastSeq: 5, lastId: 'n5' } })
  await t.resume.load()
  t.queue.enqueue({ type: 'welcome', epoch: 'e1', userId: 'u1' })
  t.queue.enqueue({ type: 'missed', afterSeq: 0, nextSeq: 1, epoch: 'e1' })
  t.queue.enqueue(note(1))
  await t.queue.idle
  assert.deepEqual(t.resume.current, { epoch: 'e1', lastSeq: 1, lastId: 'n1', userId: 'u1' })
  await t.clock.advance(1000)
  assert.deepEqual(t.acked, [1], 'only what this session handled')
})

test('missed: moves the session to the new epoch, rewinds a position the server lost, tells the app', async () => {
  const t = setup({ stored: { epoch: 'e1', lastSeq: 9 } })
  await t.resume.load()
  t.queue.enqueue({ type: 'missed', afterSeq: 6, nextSeq: 8, epoch: 'e1' })
  await t.queue.idle
  assert.equal(t.resume.current?.lastSeq, 6, 'the server went back')
  t.queue.enqueue({ type: 'missed', afterSeq: 0, nextSeq: 3, epoch: 'e2' })
  await t.queue.idle
  assert.equal(t.session.epoch, 'e2')
  assert.deepEqual(t.resume.current, { epoch: 'e2', lastSeq: 0, userId: 'u1' })
  assert.deepEqual(t.missed, [
    { afterSeq: 6, nextSeq: 8, epoch: 'e1' },
    { afterSeq: 0, nextSeq: 3, epoch: 'e2' },
  ])
})

test('a position reset while a handler runs is not overwritten; a stopped client does not ack', async () => {
  let release!: () => void
  const t = setup({
    onNotification: (n) => (n.seq === 1 ? new Promise<void>((r) => (release = r)) : undefined),
  })
  t.queue.enqueue(note(1))
  await settle()
  t.resume.forget() // resetResume() while the app handles #1
  release()
  await t.queue.idle
  const afterReset = t.resume.current
  assert.equal(afterReset, null, 'not overwritten')
  t.link.running = false
  t.queue.enqueue(note(2))
  await t.queue.idle
  assert.equal(t.resume.current?.lastSeq, 2)
  await t.clock.advance(1000)
  assert.deepEqual(t.acked, [])
})

test('dropPending drops what was not handled yet', async () => {
  let release!: () => void
  const t = setup({
    onNotification: (n) => {
      t.handled.push(n.seq)
      return n.seq === 1 ? new Promise<void>((r) => (release = r)) : undefined
    },
  })
  t.queue.enqueue(note(1))
  t.queue.enqueue(note(2))
  await settle()
  t.queue.dropPending()
  release()
  await t.queue.idle
  assert.deepEqual(t.handled, [1])
})
