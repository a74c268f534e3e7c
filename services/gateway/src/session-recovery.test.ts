// A live session when what it was told stops being true: Redis lost writes and reused their seqs, a
// new epoch began during the connect read, the pod's pub/sub connection came back, a replay larger
// than the slow-reader limit. Each must end with the app holding every notification, in session.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { ServerFrame } from '@tidings/contracts'
import { createRedisConnection, type RedisClient, userInboxKey, userStateKey } from '@tidings/delivery'
import { loseLatestWrites } from '@tidings/test/e2e/redis-failover'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { notification, startTestGateway, type TestGateway } from './testing/test-gateway.ts'

let gw: TestGateway
let redis: RedisClient
before(async () => {
  gw = await startTestGateway()
  redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'session-recovery-test' })
})
after(async () => {
  await gw.stop()
  redis.disconnect()
})

/** What the app saw after `welcome`: `seq:label` per notification, `missed@afterSeq` per missed. */
const seen = (frames: ServerFrame[]) =>
  frames.flatMap((f) => {
    if (f.type === 'notification') return [`${f.seq}:${f.title.replace('title ', '')}`]
    if (f.type === 'missed') return [`missed@${f.afterSeq}`]
    return []
  })

const deliver = async (user: string, labels: string[]) => {
  for (const l of labels) await gw.store.deliverToUser(user, uniqueName('e'), notification(l))
}

/** Written while the pod's subscriber was away (a failover drops it): their publishes go nowhere. */
async function deliverUnseen(user: string, labels: string[]) {
  const listeners = gw.subscriber.listeners('smessageBuffer') as Array<(...args: unknown[]) => void>
  gw.subscriber.removeAllListeners('smessageBuffer')
  let dropped = 0
  gw.subscriber.on('smessageBuffer', () => dropped++)
  await deliver(user, labels)
  await waitFor(() => dropped === labels.length, {
    message: 'the publishes reached the pod, and went nowhere',
  })
  gw.subscriber.removeAllListeners('smessageBuffer')
  for (const l of listeners) gw.subscriber.on('smessageBuffer', l)
}

/** A session that got `labels` live, as seqs 1, 2, … */
async function liveSession(labels: string[]) {
  const user = uniqueName('u')
  const s = await openSocket(gw.url, { token: await signUserToken(user) })
  await s.next('welcome')
  await deliver(user, labels)
  await s.waitForCount('notification', labels.length)
  return { user, s }
}

/** A failover that kept seq 1 of three: same epoch, state and inbox as they were after the first write. */
const loseLastTwoWrites = (user: string) => loseLatestWrites(infraFromEnv().redisUrl, user, 2)

/**
 * The pod's pub/sub connection drops and comes back: the hub re-reads every open session's inbox
 * (refreshAll counts those re-reads at once; each runs after what its session has queued).
 */
async function reconnectSubscriber() {
  const metric = () => gw.gateway.pod.metrics.registry.getSingleMetricAsString('tidings_resyncs_total')
  const before = await metric()
  gw.subscriber.disconnect(true)
  await waitFor(async () => (await metric()) !== before, { message: 'the pub/sub connection came back' })
}

describe('seqs reused after Redis lost writes', () => {
  test('seen live: the app gets missed from 0 and the notifications that took its seqs', async () => {
    const { user, s } = await liveSession(['a1', 'a2', 'a3'])
    await loseLastTwoWrites(user)
    await deliver(user, ['b2', 'b3', 'b4'])
    await s.waitForCount('notification', 7)
    assert.deepEqual(seen(s.frames), ['1:a1', '2:a2', '3:a3', 'missed@0', '1:a1', '2:b2', '3:b3', '4:b4'])
    await s.close()
  })

  test('missed live, then re-read after a pub/sub reconnect: the same', async () => {
    const { user, s } = await liveSession(['a1', 'a2', 'a3'])
    await loseLastTwoWrites(user)
    await deliverUnseen(user, ['b2', 'b3', 'b4'])
    await reconnectSubscriber()
    await s.waitForCount('notification', 7)
    assert.deepEqual(seen(s.frames), ['1:a1', '2:a2', '3:a3', 'missed@0', '1:a1', '2:b2', '3:b3', '4:b4'])
    await s.close()
  })

  test('the next seq arriving live before the re-read after a reconnect does not hide them', async () => {
    const { user, s } = await liveSession(['a1', 'a2', 'a3'])
    await loseLastTwoWrites(user)
    await deliverUnseen(user, ['b2', 'b3'])
    // the hub's re-read is held: b4 comes back on the re-subscribed channel before it
    const hub = gw.gateway.hub
    const refreshAll = hub.refreshAll.bind(hub)
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let refreshes = 0
    hub.refreshAll = () => {
      refreshes++
      void held.then(refreshAll)
    }
    try {
      gw.subscriber.disconnect(true)
      await waitFor(() => refreshes === 1, { message: 'the pub/sub connection came back' })
      let arrived = 0
      const count = () => arrived++
      gw.subscriber.on('smessageBuffer', count)
      await deliver(user, ['b4'])
      await waitFor(() => arrived === 1, { message: 'b4 reached the pod' })
      gw.subscriber.off('smessageBuffer', count)
      release()
      await s.waitForCount('notification', 7)
      assert.deepEqual(seen(s.frames), ['1:a1', '2:a2', '3:a3', 'missed@0', '1:a1', '2:b2', '3:b3', '4:b4'])
    } finally {
      hub.refreshAll = refreshAll
      release()
      await s.close()
    }
  })

  test('lost while a re-read was in flight: the notification now at the cursor seq, held back meanwhile, is not taken for a duplicate', async () => {
    const { user, s } = await liveSession(['a1', 'a2', 'a3'])
    await deliverUnseen(user, ['a4']) // a gap: the next message starts a re-read
    const store = gw.gateway.pod.store
    const readInbox = store.readInbox
    let reads = 0
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    store.readInbox = async (userId, from) => {
      const read = await readInbox.call(store, userId, from)
      reads++
      await held
      return read
    }
    try {
      await deliver(user, ['a5'])
      await waitFor(() => reads === 1, { message: 'the re-read ran (it holds a4, a5)' })
      // then a failover loses a5, and b5 takes its seq
      await loseLatestWrites(infraFromEnv().redisUrl, user, 1)
      let arrived = 0
      const count = () => arrived++
      gw.subscriber.on('smessageBuffer', count)
      await deliver(user, ['b5'])
      await waitFor(() => arrived === 1, { message: 'b5 reached the pod, held back' })
      gw.subscriber.off('smessageBuffer', count)
    } finally {
      store.readInbox = readInbox
      release()
    }
    await s.waitForCount('notification', 10)
    assert.deepEqual(seen(s.frames), [
      '1:a1',
      '2:a2',
      '3:a3',
      '4:a4',
      '5:a5',
      'missed@0',
      '1:a1',
      '2:a2',
      '3:a3',
      '4:a4',
      '5:b5',
    ])
    await s.close()
  })

  test('one below the cursor, seen live: the same', async () => {
    const { user, s } = await liveSession(['a1', 'a2', 'a3'])
    await loseLastTwoWrites(user)
    await deliver(user, ['b2'])
    await s.waitForCount('notification', 5)
    assert.deepEqual(seen(s.frames), ['1:a1', '2:a2', '3:a3', 'missed@0', '1:a1', '2:b2'])
    await s.close()
  })

  test('a re-read that finds the same notification at the cursor replays nothing twice', async () => {
    const { user, s } = await liveSession(['a1', 'a2'])
    await reconnectSubscriber()
    await deliver(user, ['a3'])
    await s.waitForCount('notification', 3)
    s.send({ type: 'ping' })
    await s.next('pong')
    assert.deepEqual(seen(s.frames), ['1:a1', '2:a2', '3:a3'])
    await s.close()
  })

  /** The app was away when Redis lost writes, and came back with the position it had stored. */
  async function resumeAfterReuse(withLastId: boolean) {
    const { user, s } = await liveSession(['a1', 'a2', 'a3'])
    const last = s.frames.findLast((f) => f.type === 'notification')!
    const welcome = s.frames.find((f) => f.type === 'welcome')!
    await s.close()
    await loseLastTwoWrites(user)
    await deliver(user, ['b2', 'b3']) // seq 2 and 3 again: the stored lastSeq is not past the latest
    const query = { lastSeq: 3, epoch: welcome.epoch, ...(withLastId && { lastId: last.id }) }
    const again = await openSocket(gw.url, { token: await signUserToken(user), query })
    await again.next('welcome')
    again.send({ type: 'ping' })
    await again.next('pong') // the connect replay is complete
    return { user, again }
  }

  test('on reconnect: a lastSeq that now holds another notification (lastId) gets missed from 0 and the inbox from the oldest', async () => {
    const { again } = await resumeAfterReuse(true)
    assert.deepEqual(seen(again.frames), ['missed@0', '1:a1', '2:b2', '3:b3'])
    await again.close()
  })

  test('on reconnect without lastId the reuse cannot be told: b2 and b3 are skipped (why the SDK sends it)', async () => {
    const { again } = await resumeAfterReuse(false)
    assert.deepEqual(seen(again.frames), [])
    await again.close()
  })

  test('on reconnect: a lastId that matches resumes after lastSeq, as without one', async () => {
    const { user, s } = await liveSession(['a1', 'a2'])
    const last = s.frames.findLast((f) => f.type === 'notification')!
    const welcome = s.frames.find((f) => f.type === 'welcome')!
    await s.close()
    await deliver(user, ['a3'])
    const query = { lastSeq: 2, epoch: welcome.epoch, lastId: last.id }
    const again = await openSocket(gw.url, { token: await signUserToken(user), query })
    await again.waitForCount('notification', 1)
    again.send({ type: 'ping' })
    await again.next('pong')
    assert.deepEqual(seen(again.frames), ['3:a3'])
    await again.close()
  })
})

test('pub/sub reconnects do not use up the resyncs a gap gets: an epoch change after three is resynced in session', async () => {
  const user = uniqueName('u')
  await gw.store.deliverToUser(user, uniqueName('e'), notification('a'))
  const s = await openSocket(gw.url, { token: await signUserToken(user) })
  await s.next('welcome')
  await s.waitForCount('notification', 1)
  for (let i = 0; i < 3; i++) await reconnectSubscriber()
  // Redis lost the user's state: the next write starts a new epoch
  await redis.del(userStateKey(user), userInboxKey(user))
  await gw.store.deliverToUser(user, uniqueName('e'), notification('new-epoch'))
  const missed = await s.next('missed')
  assert.equal(missed.afterSeq, 0)
  await s.waitForCount('notification', 2)
  assert.deepEqual(seen(s.frames), ['1:a', 'missed@0', '1:new-epoch'])
  await s.close()
})

test('a notification of a new epoch published during the connect read reaches the session', async () => {
  const user = uniqueName('u')
  await gw.store.deliverToUser(user, uniqueName('e'), notification('old'))
  // the connect script's answer is held back (the script itself ran), widening the window
  const admission = gw.gateway.pod.admission
  const admit = admission.admit.bind(admission)
  let read = false
  let release!: () => void
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  admission.admit = async (...args) => {
    const admitted = await admit(...args)
    read = true
    await held
    return admitted
  }
  let messages = 0
  const count = () => messages++
  gw.subscriber.on('smessageBuffer', count) // after the router's own listener
  try {
    const socket = openSocket(gw.url, { token: await signUserToken(user) })
    await waitFor(() => read, { message: 'the connect read ran' })
    await redis.del(userStateKey(user), userInboxKey(user))
    await gw.store.deliverToUser(user, uniqueName('e'), notification('new-epoch'))
    await waitFor(() => messages === 1, { message: 'the live message reached the pod (held back)' })
    release()
    const s = await socket
    await s.next('welcome')
    await s.waitForCount('notification', 2)
    assert.deepEqual(seen(s.frames), ['1:old', 'missed@0', '1:new-epoch'])
    await s.close()
  } finally {
    admission.admit = admit
    gw.subscriber.off('smessageBuffer', count)
  }
})

describe('a replay larger than MAX_BUFFERED_BYTES', () => {
  let small: TestGateway
  before(async () => {
    small = await startTestGateway({ MAX_BUFFERED_BYTES: '16384' })
  })
  after(() => small.stop())

  test('reaches a reader that keeps up, whole', async () => {
    const user = uniqueName('u')
    // 1,000 × ~6 KB: more than the loopback's buffers take at once
    const data = { filler: 'x'.repeat(6000) }
    const items = Array.from({ length: 1000 }, (_, i) => ({
      userId: user,
      dedupeId: `e${i}`,
      notification: { ...notification(`r${i}`), data },
    }))
    const outcomes = await small.store.deliverToUsers(items)
    assert.ok(outcomes.every((o) => o.status === 'delivered'))
    const s = await openSocket(small.url, { token: await signUserToken(user) })
    const outcome = await Promise.race([
      s.waitForCount('notification', 1000, 30_000).then(() => 'all received'),
      s.closed.then((c) => `closed ${c.code} ${c.reason}`),
    ])
    assert.equal(outcome, 'all received')
    await s.close()
  })
})

// An EventSource opened with ?lastSeq&epoch&lastId keeps that URL for its own reconnects, and sends
// Last-Event-ID. After a resume that found the seqs reused (missed from 0 and the inbox from the
// oldest), the last event it got can carry the same seq as the URL: the URL's lastId is stale then,
// and taking it would make every reconnect a regression again. Last-Event-ID wins, without it.
test('SSE: an EventSource reconnect after a missed-from-0 replay that ended at the URL’s lastSeq resumes, not replays again', async () => {
  const { openSse } = await import('@tidings/test/support/sse-client')
  const { user, s } = await liveSession(['a1', 'a2', 'a3'])
  const last = s.frames.findLast((f) => f.type === 'notification')!
  const welcome = s.frames.find((f) => f.type === 'welcome')!
  await s.close()
  await loseLastTwoWrites(user)
  await deliver(user, ['b2', 'b3'])
  const token = await signUserToken(user)
  const url = `${gw.url}/v1/sse?lastSeq=3&epoch=${welcome.epoch}&lastId=${encodeURIComponent(last.id)}`
  const titles = (es: Awaited<ReturnType<typeof openSse>>) =>
    es.events.flatMap((e) =>
      e.event === 'notification'
        ? [`${e.id}:${JSON.parse(e.data).title.replace('title ', '')}`]
        : e.event === 'missed'
          ? ['missed']
          : [],
    )
  const first = await openSse(url, { authorization: `Bearer ${token}` })
  await first.next('welcome')
  await waitFor(() => first.events.filter((e) => e.event === 'notification').length === 3)
  const lastEventId = first.events.findLast((e) => e.event === 'notification')!.id!
  assert.deepEqual(titles(first).slice(0, 1), ['missed'])
  first.close()
  // EventSource's own reconnect: the same URL, and the id of the last event it got
  const again = await openSse(url, { authorization: `Bearer ${token}`, 'last-event-id': lastEventId })
  await again.next('welcome')
  await deliver(user, ['c4'])
  await waitFor(() => again.events.some((e) => e.event === 'notification' && e.id!.endsWith(':4')))
  assert.deepEqual(titles(again), [`${welcome.epoch}:4:c4`], 'it has 1..3 of this sequence already')
  again.close()
})
