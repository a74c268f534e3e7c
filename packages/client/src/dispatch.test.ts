import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DeliveryItem } from './delivery-queue.ts'
import { type FrameDispatchDeps, frameDispatcher } from './dispatch.ts'
import type { TidingsError } from './errors.ts'
import { note, welcome } from './testing/harness.ts'
import type { Transport } from './transport.ts'
import type { ServerFrame } from './wire.ts'

/** Records, in order, which part each frame reached. */
function setup(opts: { hasTransport?: boolean; otherUser?: boolean; resumed?: boolean } = {}) {
  const calls: string[] = []
  const delivered: DeliveryItem[] = []
  const errors: TidingsError[] = []
  const live = { kind: 'websocket' } as Transport
  const deps: FrameDispatchDeps = {
    connection: {
      acks: { reset: () => calls.push('acks.reset') } as unknown as FrameDispatchDeps['connection']['acks'],
      pings: { pong: () => calls.push('pong') } as unknown as FrameDispatchDeps['connection']['pings'],
      beginSession: () => {
        calls.push('beginSession')
        return opts.hasTransport ?? true
      },
      resumedFromPosition: opts.resumed ?? false,
      restartNow: (reason) => calls.push(`restartNow ${reason}`),
      sessionOpened: () => calls.push('sessionOpened'),
      announceOpen: () => calls.push('announceOpen'),
      reauthenticate: async (gen) => void calls.push(`reauthenticate ${gen}`),
      restartHinted: (ms) => calls.push(`restartHinted ${ms}`),
      liveWebSocket: live,
    },
    delivery: {
      enqueue: (item) => {
        calls.push(`enqueue ${item.type}`)
        delivered.push(item)
      },
      dropPending: () => calls.push('dropPending'),
      forgetSeen: () => calls.push('forgetSeen'),
    },
    resume: {
      belongsToAnother: () => opts.otherUser ?? false,
      forget: () => calls.push('resume.forget'),
    },
    topics: { joinAll: (t) => calls.push(t === live ? 'joinAll' : 'joinAll?') },
    report: (e) => errors.push(e),
  }
  return { calls, delivered, errors, dispatch: frameDispatcher(deps) }
}

test('welcome opens the session: connection, topics, then the welcome is delivered in order, then the app hears', () => {
  const t = setup()
  t.dispatch(welcome() as ServerFrame, 3)
  assert.deepEqual(t.calls, ['beginSession', 'sessionOpened', 'joinAll', 'enqueue welcome', 'announceOpen'])
  assert.deepEqual(t.delivered, [{ type: 'welcome', epoch: 'e1', userId: 'u1' }])
})

test('welcome with nothing connected is ignored', () => {
  const t = setup({ hasTransport: false })
  t.dispatch(welcome() as ServerFrame, 1)
  assert.deepEqual(t.calls, ['beginSession'])
})

test("another user's position is forgotten; if the connection resumed from it, it is replaced", () => {
  const forget = ['beginSession', 'resume.forget', 'acks.reset', 'forgetSeen', 'dropPending']
  const fresh = setup({ otherUser: true })
  fresh.dispatch(welcome() as ServerFrame, 1)
  assert.deepEqual(fresh.calls, [...forget, 'sessionOpened', 'joinAll', 'enqueue welcome', 'announceOpen'])
  const resumed = setup({ otherUser: true, resumed: true })
  resumed.dispatch(welcome() as ServerFrame, 1)
  assert.deepEqual(resumed.calls, [...forget, 'restartNow resume position of another user'])
})

test('deliverable frames are queued; the rest go to the connection or become errors', () => {
  const t = setup()
  const frames = [
    note(1),
    { type: 'missed', afterSeq: 0, nextSeq: 2, epoch: 'e1' },
    { type: 'broadcast', topic: 'x', id: 'b1' },
    { type: 'reauth' },
    { type: 'pong' },
    { type: 'reconnect', afterMs: 750 },
    { type: 'error', code: 'bad_request', message: 'nope' },
    { type: 'subscribed', topic: 'x' },
    { type: 'from-the-future' },
  ] as ServerFrame[]
  for (const f of frames) t.dispatch(f, 7)
  assert.deepEqual(t.calls, [
    'enqueue notification',
    'enqueue missed',
    'enqueue broadcast',
    'reauthenticate 7',
    'pong',
    'restartHinted 750',
  ])
  assert.deepEqual(
    t.errors.map((e) => [e.kind, e.serverCode, e.message]),
    [['server', 'bad_request', 'server error bad_request: nope']],
  )
})
