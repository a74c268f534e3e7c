// Session unit tests: the hub and a session on the in-memory delivery implementations with a fake
// transport (testing.ts). No Redis, no socket: the races are played step by step.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { CloseCode } from '@tidings/contracts'
import type { InboxRead, LiveNotification, ResumePoint } from '@tidings/delivery'
import { waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import type { Principal } from './auth/token-verifier.ts'
import { Closes } from './close-reasons.ts'
import type { Session } from './session.ts'
import { createMemoryPod, FakeTransport, type MemoryPod, settle } from './testing/memory-pod.ts'

const note = (label: string) => ({
  id: `n-${label}`,
  kind: 'test.kind',
  createdAt: '2026-12-07T03:00:00.000Z',
  title: `title ${label}`,
  body: `body ${label}`,
  data: { label },
})
const principal = (userId: string, topics: string[] = []): Principal => ({
  userId,
  issuedAt: Date.now() - 1000,
  expiresAt: Date.now() + 3_600_000,
  topics,
})
const frame = (value: unknown) => Buffer.from(JSON.stringify(value))

describe('Session (in memory)', () => {
  let m: MemoryPod
  beforeEach(() => {
    m = createMemoryPod()
  })
  afterEach(() => m.stop())

  async function open(userId: string, opts: { topics?: string[]; resume?: ResumePoint } = {}) {
    const transport = new FakeTransport()
    const session = m.hub.open(transport, principal(userId, opts.topics), opts.resume ?? {})
    assert.ok(session)
    await settle()
    return { transport, session }
  }
  const deliver = (userId: string, label: string) => m.inbox.deliverToUser(userId, label, note(label))
  const send = (session: Session, value: unknown) => session.receive(frame(value), false)

  test('a replay racing live messages: each seq once, in order', async () => {
    await deliver('u1', 'a')
    await deliver('u1', 'b')
    // The inbox is read (seqs 1, 2) but its answer is held back; meanwhile seq 2 arrives live again
    // (it was published while the pod subscribed) and seq 3 is delivered live.
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    const readInbox = m.inbox.readInbox
    m.pod.store.readInbox = async (userId, from): Promise<InboxRead> => {
      const read = await readInbox(userId, from)
      await held
      return read
    }
    const transport = new FakeTransport()
    m.hub.open(transport, principal('u1'), {})
    await settle()
    const [two] = (await readInbox('u1', { lastSeq: 1 })).frames
    m.router.publishToUser('u1', {
      epoch: (await readInbox('u1', {})).epoch,
      seq: 2,
      frame: Buffer.from(two!),
      meta: undefined,
    })
    await deliver('u1', 'c')
    assert.deepEqual(transport.seqs, [], 'nothing before the replay')
    release()
    await settle()
    assert.deepEqual(transport.seqs, [1, 2, 3])
    assert.equal(transport.sent[0]?.type, 'welcome')
    await deliver('u1', 'd')
    assert.deepEqual(transport.seqs, [1, 2, 3, 4])
  })

  test('a gap in the live stream re-reads the inbox from the cursor', async () => {
    const { transport } = await open('u2')
    await deliver('u2', 'a')
    assert.deepEqual(transport.seqs, [1])
    // seq 2 reaches the inbox but its pub/sub message is lost
    const publish = m.router.publishToUser
    m.router.publishToUser = () => {}
    await deliver('u2', 'b')
    m.router.publishToUser = publish
    await deliver('u2', 'c')
    await settle()
    assert.deepEqual(transport.seqs, [1, 2, 3])
    assert.equal((await m.pod.metrics.resyncs.get()).values[0]?.value, 1)
    assert.equal(transport.closedWith, undefined)
  })

  test('resyncs that keep finding nothing end the session with 1013; progress resets the count', async () => {
    const { transport } = await open('u3')
    const publish = m.router.publishToUser
    // gaps the inbox can fill, one after another: each resync moves the cursor
    for (const label of ['a', 'b', 'c', 'd']) {
      m.router.publishToUser = () => {}
      await deliver('u3', `${label}-lost`)
      m.router.publishToUser = publish
      await deliver('u3', label)
      await settle()
    }
    assert.equal(transport.closedWith, undefined)
    assert.deepEqual(transport.seqs, [1, 2, 3, 4, 5, 6, 7, 8])
    const resyncs = async () => (await m.pod.metrics.resyncs.get()).values[0]?.value ?? 0
    assert.equal(await resyncs(), 4)
    // a live message the inbox never got (its write was lost in a failover): a gap no re-read fills
    const { epoch } = await m.inbox.readInbox('u3', {})
    m.router.publishToUser('u3', {
      epoch,
      seq: 10,
      frame: Buffer.from('{"type":"notification","seq":10,"id":"ghost"}'),
      meta: undefined,
    })
    await settle()
    assert.deepEqual(transport.closedWith, { code: CloseCode.TryAgainLater, reason: 'try again later' })
    assert.equal(await resyncs(), 4 + 4, 'the first read, then three that found nothing')
    assert.deepEqual(transport.seqs, [1, 2, 3, 4, 5, 6, 7, 8])
    assert.equal(m.hub.size, 0)
  })

  test('a session refused for too many sessions leaves the user channel and holds no presence', async () => {
    const admitted = []
    for (let i = 0; i < m.pod.config.admission.maxSessionsPerUser; i++) admitted.push(await open('u7'))
    const refused = await open('u7')
    assert.deepEqual(refused.transport.closedWith?.code, CloseCode.TooManySessions)
    assert.equal(await m.presence.count('u7'), admitted.length)
    for (const { session } of admitted) session.close(Closes.ServerRestart)
    await settle()
    assert.equal(m.router.channelCount, 0, 'the refused session left the channel too')
    assert.equal(await m.presence.count('u7'), 0)
  })

  test('an admission that ran in Redis but whose reply was lost (it throws): the session ends 1013 and its entry is released', async () => {
    const admit = m.pod.admission.admit
    m.pod.admission.admit = async (...args) => {
      await admit(...args) // the entry was written…
      m.pod.admission.admit = admit
      throw new Error('Connection is closed.') // …and the reply lost with the connection, twice
    }
    const transport = new FakeTransport()
    assert.ok(m.hub.open(transport, principal('u9'), {}))
    await settle()
    await settle()
    assert.deepEqual(transport.closedWith?.code, CloseCode.TryAgainLater)
    assert.equal(await m.presence.count('u9'), 0, 'not held until the entry expires')
    assert.equal(m.router.channelCount, 0)
  })

  test('a socket gone while the session is being admitted: presence released, channel left', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    const admit = m.pod.admission.admit
    m.pod.admission.admit = async (...args) => {
      await held
      return admit(...args)
    }
    const transport = new FakeTransport()
    const session = m.hub.open(transport, principal('u8'), {})
    assert.ok(session)
    await settle()
    assert.equal(m.router.channelCount, 1, 'subscribed before the admission')
    transport.gone = true
    m.hub.disconnected(session)
    release()
    await settle()
    await settle()
    assert.equal(await m.presence.count('u8'), 0)
    assert.equal(m.router.channelCount, 0)
    assert.equal(m.hub.size, 0)
    assert.equal(transport.sent.length, 0, 'nothing sent to a gone socket')
  })

  test('a slow reader is closed 1013 instead of buffering without bound', async () => {
    const { transport } = await open('u4')
    await deliver('u4', 'a')
    transport.backlog = m.pod.config.socket.maxBufferedBytes + 1
    await deliver('u4', 'b')
    assert.deepEqual(transport.seqs, [1])
    assert.deepEqual(transport.closedWith, { code: CloseCode.TryAgainLater, reason: 'reading too slowly' })
    assert.equal((await m.pod.metrics.slowReaders.get()).values[0]?.value, 1)
    assert.equal(m.router.channelCount, 0, 'the user channel is left')
  })

  test('a replay over MAX_BUFFERED_BYTES is no slow reader; the live backlog on top of it is, and a re-read that sends nothing does not raise the limit', async () => {
    const max = m.pod.config.socket.maxBufferedBytes
    // the backlog is what was sent and never read
    class Unread extends FakeTransport {
      override notification(frame: Buffer | string): void {
        super.notification(frame)
        this.backlog += frame.length
      }
    }
    const big = (label: string) => ({ ...note(label), body: 'x'.repeat(8192) })
    const replayed = Math.ceil((2 * max) / 8192)
    for (let i = 0; i < replayed; i++) await m.inbox.deliverToUser('u9', `r${i}`, big(`r${i}`))
    const transport = new Unread()
    const session = m.hub.open(transport, principal('u9'), {})
    assert.ok(session)
    await settle()
    assert.equal(transport.seqs.length, replayed)
    assert.ok(transport.backlog > 2 * max)
    assert.equal(transport.closedWith, undefined, 'a replay is not a slow reader')
    // live notifications nobody reads, up to just under the limit on top of the replay, re-read
    // in between (a pub/sub reconnect): each re-read sends nothing and must not forgive them
    const afterReplay = transport.backlog
    const onTop = () => transport.backlog - afterReplay
    let i = 0
    while (onTop() < max - 9000) {
      await m.inbox.deliverToUser('u9', `l${i}`, big(`l${i++}`))
      session.refresh()
      await settle()
    }
    assert.equal(transport.closedWith, undefined)
    await m.inbox.deliverToUser('u9', `l${i}`, big(`l${i++}`))
    await m.inbox.deliverToUser('u9', `l${i}`, big(`l${i++}`))
    assert.deepEqual(transport.closedWith, { code: CloseCode.TryAgainLater, reason: 'reading too slowly' })
  })

  test("late duplicates below the cursor (the pod's subscriber behind its store connection) cost no inbox read", async () => {
    const { transport, session } = await open('u10')
    let reads = 0
    const readInbox = m.pod.store.readInbox
    m.pod.store.readInbox = (userId, from) => {
      reads++
      return readInbox(userId, from)
    }
    const live = session.live.bind(session)
    const wire: LiveNotification[] = []
    let published = 0
    session.live = (msg) => {
      if (published++ === 10) return // one publish lost: a gap, one re-read
      wire.push(msg)
      if (wire.length > 2) live(wire.shift()!) // two messages behind: each arrives after a re-read had it
    }
    for (let i = 1; i <= 200; i++) {
      await deliver('u10', `l${i}`)
      await settle()
    }
    assert.equal(reads, 1, 'the gap is read once; the late duplicates after it are recognised')
    assert.deepEqual(
      transport.seqs,
      Array.from({ length: transport.seqs.length }, (_, i) => i + 1),
    )
    assert.ok(transport.seqs.length >= 198)
  })

  test('re-authentication with fewer topics leaves the topics no longer allowed', async () => {
    const { transport, session } = await open('u5', { topics: ['news', 'sport'] })
    send(session, { type: 'subscribe', topic: 'news' })
    send(session, { type: 'subscribe', topic: 'sport' })
    await settle()
    assert.deepEqual(
      transport.frames('subscribed').map((f) => f.topic),
      ['news', 'sport'],
    )
    send(session, { type: 'auth', token: await signUserToken('u5', { topics: ['news'] }) })
    // the token check is asynchronous (WebCrypto)
    await waitFor(() => transport.frames('authenticated').length > 0, { message: 'authenticated' })
    assert.deepEqual(transport.frames('unsubscribed'), [{ type: 'unsubscribed', topic: 'sport' }])
    assert.equal(transport.frames('authenticated').length, 1)
    m.router.publishToTopic('sport', frame({ type: 'broadcast', topic: 'sport' }))
    m.router.publishToTopic('news', frame({ type: 'broadcast', topic: 'news' }))
    assert.deepEqual(
      transport.frames('broadcast').map((f) => f.topic),
      ['news'],
    )
    // and the narrowed token is the one in force
    send(session, { type: 'subscribe', topic: 'sport' })
    await settle()
    assert.equal(transport.frames('error')[0]?.code, 'forbidden_topic')
  })

  test('an ack sent before an epoch change does not trim the new epoch', async () => {
    const { transport, session } = await open('u6')
    await deliver('u6', 'a')
    await deliver('u6', 'b')
    const first = transport.frames<{ epoch: string }>('welcome')[0]?.epoch
    // the user's state is lost (a failover): the next notification starts a new epoch, seq 1
    m.inbox.forget('u6')
    await deliver('u6', 'c')
    await settle()
    const second = (await m.inbox.readInbox('u6', {})).epoch
    assert.notEqual(second, first)
    assert.deepEqual(transport.frames('missed'), [{ type: 'missed', afterSeq: 0, nextSeq: 1, epoch: second }])
    assert.deepEqual(transport.seqs, [1, 2, 1])
    // the client acks seq 2 of the old epoch: nothing of the new one goes
    send(session, { type: 'ack', seq: 2, epoch: first })
    await settle()
    assert.deepEqual((await m.inbox.readInbox('u6', { lastSeq: 0 })).frames.length, 1)
    // an ack without an epoch is one of the session's current epoch
    send(session, { type: 'ack', seq: 1 })
    await settle()
    assert.equal((await m.inbox.readInbox('u6', {})).acked, 1)
  })
})
