// Kafka → dispatcher → Redis → gateway → socket, over real processes: routing across gateway pods,
// offline replay / ack / resume / epoch change, dedupe, and dead letters.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { createEventProducer, type NotificationFrame } from '@tidings/contracts'
import { userStateKey } from '@tidings/delivery'
import { Redis } from 'ioredis'
import type { Producer } from 'kafkajs'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '../infra/index.ts'
import { signUserToken } from '../support/tokens.ts'
import { loanDecision, produce, produceDecisions, readTopic } from './kafka.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { assertContiguous, connectUser, newUserId, settle } from './users.ts'

const INBOX_CAP = 20

let redisServer: RedisServer
let redis: Redis
let stack: Stack
let producer: Producer
let gw1: string
let gw2: string

before(async () => {
  const { kafkaBrokers } = infraFromEnv()
  // a private Redis: this file FLUSHALLs it, and other packages' tests share the run's Redis
  redisServer = await startRedis()
  redis = new Redis(redisServer.url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-delivery',
    redisUrl: redisServer.url,
    kafkaBrokers,
    gateways: 2,
    // a small inbox so that trimming (and its `missed`) is reachable: the writer's setting only
    dispatcherEnv: { INBOX_CAP: String(INBOX_CAP) },
  }))
  gw1 = stack.gateways[0]!.baseUrl
  gw2 = stack.gateways[1]!.baseUrl
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  redis?.disconnect()
  await redisServer?.stop()
})

/** The user's last assigned seq in Redis (0 when none): tells that the dispatcher stored an event. */
async function storedSeq(userId: string): Promise<number> {
  return Number((await redis.hget(userStateKey(userId), 'seq')) ?? 0)
}

const loanIds = (frames: NotificationFrame[]) => frames.map((f) => f.data.loanId)

test('an event reaches the user on whichever gateway holds the socket, and nobody else', async () => {
  const alice = newUserId('alice')
  const bob = newUserId('bob')
  const carol = newUserId('carol') // one session on each pod
  const a = await connectUser(gw1, alice)
  const b = await connectUser(gw2, bob)
  const c1 = await connectUser(gw1, carol)
  const c2 = await connectUser(gw2, carol)
  try {
    const forAlice = [
      loanDecision(alice, { decision: 'APPROVED' }),
      loanDecision(alice, { decision: 'DISBURSED', locale: 'bn' }),
      loanDecision(alice, { decision: 'NEEDS_INFO', amount: null }),
    ]
    const forBob = [loanDecision(bob, { decision: 'REJECTED' }), loanDecision(bob)]
    const forCarol = [loanDecision(carol), loanDecision(carol)]
    // interleaved in one send, as a busy loan service would
    await produceDecisions(producer, stack.topics.loanDecisions, [
      forAlice[0]!,
      forBob[0]!,
      forCarol[0]!,
      forAlice[1]!,
      forBob[1]!,
      forCarol[1]!,
      forAlice[2]!,
    ])
    await a.waitForCount('notification', 3)
    await b.waitForCount('notification', 2)
    await c1.waitForCount('notification', 2)
    await c2.waitForCount('notification', 2)
    // a barrier instead of a sleep: one more event each; once it is there, nothing else is coming
    const lastA = loanDecision(alice)
    const lastB = loanDecision(bob)
    await produceDecisions(producer, stack.topics.loanDecisions, [lastA, lastB])
    await a.waitForCount('notification', 4)
    await b.waitForCount('notification', 3)

    assert.deepEqual(
      loanIds(a.notifications()),
      [...forAlice, lastA].map((e) => e.loanId),
    )
    assert.deepEqual(
      loanIds(b.notifications()),
      [...forBob, lastB].map((e) => e.loanId),
    )
    assertContiguous(
      a.notifications().map((f) => f.seq),
      1,
      'alice',
    )
    assertContiguous(
      b.notifications().map((f) => f.seq),
      1,
      'bob',
    )
    // both of carol's sessions, on different pods, get the same notifications with the same seqs
    assert.deepEqual(c1.notifications(), c2.notifications())
    assert.deepEqual(
      loanIds(c1.notifications()),
      forCarol.map((e) => e.loanId),
    )

    // the frame is the DTO of docs/protocol.md §4.1, nothing of the domain event leaks
    const [approved, disbursedBn, needsInfo] = a.notifications()
    assert.deepEqual(Object.keys(approved!).sort(), [
      'body',
      'createdAt',
      'data',
      'id',
      'kind',
      'seq',
      'title',
      'type',
    ])
    assert.equal(approved!.kind, 'loan.decision')
    assert.equal(approved!.createdAt, forAlice[0]!.occurredAt)
    assert.deepEqual(approved!.data, {
      loanId: forAlice[0]!.loanId,
      decision: 'APPROVED',
      amount: { value: 50_000, currency: 'BDT' },
    })
    assert.match(approved!.title, /approved/i)
    assert.match(approved!.body, new RegExp(forAlice[0]!.loanId))
    assert.match(disbursedBn!.title, /[\u0980-\u09FF]/, 'locale bn gives a Bangla title')
    assert.deepEqual(needsInfo!.data, { loanId: forAlice[2]!.loanId, decision: 'NEEDS_INFO' })
    const ids = a.notifications().map((f) => f.id)
    assert.equal(new Set(ids).size, ids.length)
  } finally {
    await Promise.all([a.close(), b.close(), c1.close(), c2.close()])
  }
})

test('a notifications.requested event is delivered like a loan decision', async () => {
  const dave = newUserId('dave')
  const d = await connectUser(gw2, dave)
  try {
    await produce(producer, stack.topics.notificationsRequested, dave, {
      eventId: `req-${dave}`,
      occurredAt: new Date().toISOString(),
      userId: dave,
      kind: 'document.requested',
      title: 'Upload your NID',
      body: 'We need a photo of your national ID card.',
      data: { documentType: 'NID' },
    })
    const n = await d.next('notification')
    assert.equal(n.kind, 'document.requested')
    assert.equal(n.title, 'Upload your NID')
    assert.deepEqual(n.data, { documentType: 'NID' })
    assert.equal(n.seq, 1)
  } finally {
    await d.close()
  }
})

test("the backend SDK's producer (@tidings/contracts), plain JSON and CloudEvents binary mode, reaches the socket", async () => {
  const kim = newUserId('kim')
  const k = await connectUser(gw1, kim)
  try {
    const topics = {
      loanDecisions: stack.topics.loanDecisions,
      notificationsRequested: stack.topics.notificationsRequested,
    }
    const plain = createEventProducer(producer, { topics })
    const cloud = createEventProducer(producer, {
      topics,
      cloudEvents: { source: '/loans/decision-service' },
    })
    await plain.loanDecision({ borrowerId: kim, loanId: 'L-sdk-1', decision: 'APPROVED', locale: 'bn' })
    await cloud.loanDecision({ borrowerId: kim, loanId: 'L-sdk-2', decision: 'REJECTED' })
    const docId = await cloud.notifyUser({
      userId: kim,
      kind: 'document.requested',
      title: 'Upload',
      body: 'Your NID',
    })
    await cloud.notifyUser({
      eventId: docId,
      userId: kim,
      kind: 'document.requested',
      title: 'Upload',
      body: 'Again',
    })
    await plain.loanDecision({ borrowerId: kim, loanId: 'L-sdk-3', decision: 'DISBURSED' })
    const frames = (await k.waitForCount('notification', 4)) as NotificationFrame[]
    // order holds per Kafka topic (per partition), not across the two topics
    assert.deepEqual(
      frames.filter((f) => f.kind === 'loan.decision').map((f) => f.data.loanId),
      ['L-sdk-1', 'L-sdk-2', 'L-sdk-3'],
    )
    const docs = frames.filter((f) => f.kind === 'document.requested')
    assert.deepEqual(
      docs.map((f) => f.body),
      ['Your NID'],
      'the re-sent eventId gave no second notification',
    )
    assert.match(frames[0]!.title, /[\u0980-\u09FF]/, 'locale bn')
  } finally {
    await k.close()
  }
})

test('a broadcast reaches the subscribed sessions on every gateway, live only', async () => {
  const topic = `promo-${process.pid}-${Date.now()}`
  const [gina, hank, ivy] = [newUserId('gina'), newUserId('hank'), newUserId('ivy')]
  const g = await connectUser(gw1, gina, { token: await signUserToken(gina, { topics: [topic] }) })
  const h = await connectUser(gw2, hank, { token: await signUserToken(hank, { topics: [topic] }) })
  const i = await connectUser(gw2, ivy, { token: await signUserToken(ivy, { topics: [topic] }) }) // not subscribed
  try {
    for (const s of [g, h]) {
      s.send({ type: 'subscribe', topic })
      await s.next('subscribed')
    }
    // a topic the token does not allow
    g.send({ type: 'subscribe', topic: 'vip' })
    assert.equal((await g.next('error')).code, 'forbidden_topic')

    const eventId = `bc-${topic}`
    const request = {
      eventId,
      occurredAt: new Date().toISOString(),
      topic,
      kind: 'promo.announced',
      title: 'Lower rates this week',
      body: 'Apply before Friday.',
      data: { campaign: 'spring' },
    }
    await produce(producer, stack.topics.notificationsRequested, topic, request)
    await produce(producer, stack.topics.notificationsRequested, topic, request) // deduped
    const barrier = loanDecision(ivy)
    await produce(producer, stack.topics.notificationsRequested, topic, {
      ...request,
      eventId: `${eventId}-2`,
    })
    for (const s of [g, h]) await s.waitForCount('broadcast', 2)
    await produce(producer, stack.topics.loanDecisions, ivy, barrier)
    await i.next('notification')

    for (const s of [g, h]) {
      const frames = s.frames.filter((f) => f.type === 'broadcast')
      assert.equal(frames.length, 2, 'the re-sent event id gave no second broadcast')
      assert.deepEqual(Object.keys(frames[0]!).sort(), [
        'body',
        'createdAt',
        'data',
        'id',
        'title',
        'topic',
        'type',
      ])
      assert.equal((frames[0] as { topic: string }).topic, topic)
      assert.equal(s.notifications().length, 0, 'a broadcast is not an inbox notification')
    }
    assert.equal(i.frames.filter((f) => f.type === 'broadcast').length, 0, 'not subscribed, nothing received')
  } finally {
    await Promise.all([g.close(), h.close(), i.close()])
  }
})

test(`an inbox over its cap (${INBOX_CAP}) keeps the newest; the replay starts with missed`, async () => {
  const jay = newUserId('jay')
  const events = Array.from({ length: INBOX_CAP + 5 }, () => loanDecision(jay))
  await produceDecisions(producer, stack.topics.loanDecisions, events)
  await waitFor(async () => (await storedSeq(jay)) === events.length, { message: 'all stored for jay' })
  const s = await connectUser(gw2, jay)
  try {
    const replayed = await settle(s)
    assert.deepEqual(s.frames[1], { type: 'missed', afterSeq: 0, nextSeq: 6, epoch: s.welcome.epoch })
    assertContiguous(
      replayed.map((f) => f.seq),
      6,
      'jay',
    )
    assert.equal(replayed.length, INBOX_CAP)
    assert.deepEqual(
      loanIds(replayed),
      events.slice(5).map((e) => e.loanId),
    )
  } finally {
    await s.close()
  }
})

test('the same eventId twice gives one notification; bad events go to the DLQ and the partition moves on', async () => {
  const erin = newUserId('erin')
  const e = await connectUser(gw1, erin)
  try {
    const event = loanDecision(erin)
    await produce(producer, stack.topics.loanDecisions, erin, event)
    await produce(producer, stack.topics.loanDecisions, erin, event) // a redelivery by the producer
    await produce(producer, stack.topics.loanDecisions, erin, { ...event, loanId: 'L-other' }) // same id, other body
    const second = loanDecision(erin, { decision: 'REJECTED' })
    await produce(producer, stack.topics.loanDecisions, erin, second)
    await e.waitForCount('notification', 2)

    // same key → same partition as erin's good events
    const notJson = await produce(producer, stack.topics.loanDecisions, erin, '{"eventId": "x", oops')
    const { borrowerId: _omitted, ...noBorrower } = loanDecision(erin)
    const badSchema = await produce(producer, stack.topics.loanDecisions, erin, noBorrower)
    const unknown = loanDecision(erin, { decision: 'ESCALATED' })
    const unmapped = await produce(producer, stack.topics.loanDecisions, erin, unknown)
    const later = loanDecision(erin, { decision: 'DISBURSED' })
    await produce(producer, stack.topics.loanDecisions, erin, later)

    await e.waitForCount('notification', 3)
    assert.deepEqual(loanIds(e.notifications()), [event.loanId, second.loanId, later.loanId])
    assertContiguous(
      e.notifications().map((f) => f.seq),
      1,
      'erin',
    )

    const dead = await readTopic(infraFromEnv().kafkaBrokers, stack.topics.deadLetter, 3)
    assert.equal(dead.length, 3, 'exactly the three bad events are dead letters')
    const byOffset = (s: { offset: string }) =>
      dead.find((d) => d.headers['tidings-source-offset'] === s.offset)
    const expectations = [
      { sent: notJson, reason: 'invalid_json', value: '{"eventId": "x", oops' },
      { sent: badSchema, reason: 'invalid_schema', value: JSON.stringify(noBorrower) },
      { sent: unmapped, reason: 'unmapped', value: JSON.stringify(unknown) },
    ]
    for (const { sent, reason, value } of expectations) {
      const d = byOffset(sent)
      assert.ok(
        d,
        `a dead letter for offset ${sent.offset} (${reason}); got ${JSON.stringify(dead.map((x) => x.headers))}`,
      )
      assert.equal(d.headers['tidings-error'], reason)
      assert.ok((d.headers['tidings-error-message'] ?? '').length > 0)
      assert.equal(d.headers['tidings-source-topic'], stack.topics.loanDecisions)
      assert.equal(d.headers['tidings-source-partition'], String(sent.partition))
      assert.equal(d.key, erin, 'the original key')
      assert.equal(d.value?.toString('utf8'), value, 'the original value, byte for byte')
    }
    assert.match(byOffset(badSchema)!.headers['tidings-error-message']!, /borrowerId/)
  } finally {
    await e.close()
  }
})

test('offline: replay in order on connect, acked ones are gone, resume gets only newer, lost state → missed', async () => {
  const fay = newUserId('fay')
  const first = Array.from({ length: 5 }, () => loanDecision(fay))
  await produceDecisions(producer, stack.topics.loanDecisions, first)
  await waitFor(async () => (await storedSeq(fay)) === 5, { message: 'five events stored for fay' })

  // 1. connect: the whole inbox, in order
  const s1 = await connectUser(gw1, fay)
  const replayed = await settle(s1)
  assert.equal(s1.frames.filter((f) => f.type === 'missed').length, 0)
  assert.deepEqual(
    loanIds(replayed),
    first.map((e) => e.loanId),
  )
  assertContiguous(
    replayed.map((f) => f.seq),
    1,
    'first replay',
  )
  const epoch = s1.welcome.epoch
  // cumulative ack of 1..3; it is applied before the next frame is handled, so the pong proves it is done
  s1.send({ type: 'ack', seq: 3 })
  await settle(s1)
  await s1.close()

  // 2. connect again without a resume point (another device): the acked ones are not replayed
  const s2 = await connectUser(gw2, fay)
  assert.deepEqual(
    (await settle(s2)).map((f) => f.seq),
    [4, 5],
  )
  assert.equal(s2.welcome.epoch, epoch)
  assert.equal(s2.frames.filter((f) => f.type === 'missed').length, 0, 'acked is never reported as missed')
  await s2.close()

  // 3. two more while offline; a resume with lastSeq + epoch gets only those
  const more = [loanDecision(fay), loanDecision(fay)]
  await produceDecisions(producer, stack.topics.loanDecisions, more)
  await waitFor(async () => (await storedSeq(fay)) === 7, { message: 'seven events stored for fay' })
  const s3 = await connectUser(gw1, fay, { query: { lastSeq: 5, epoch } })
  const newer = await settle(s3)
  assert.deepEqual(
    newer.map((f) => f.seq),
    [6, 7],
  )
  assert.deepEqual(
    loanIds(newer),
    more.map((e) => e.loanId),
  )
  assert.equal(s3.frames.filter((f) => f.type === 'missed').length, 0)
  await s3.close()

  // 4. Redis loses everything (a restart without persistence); the next event starts a new epoch
  await redis.flushall()
  const afterLoss = loanDecision(fay)
  await produce(producer, stack.topics.loanDecisions, fay, afterLoss)
  await waitFor(async () => (await storedSeq(fay)) === 1, { message: 'the event after the loss stored' })
  const s4 = await connectUser(gw2, fay, { query: { lastSeq: 7, epoch } })
  await settle(s4)
  try {
    assert.notEqual(s4.welcome.epoch, epoch, 'a new epoch after the state was lost')
    const types = s4.frames.map((f) => f.type)
    assert.deepEqual(types, ['welcome', 'missed', 'notification', 'pong'])
    const missed = s4.frames[1]
    assert.deepEqual(missed, { type: 'missed', afterSeq: 0, nextSeq: 1, epoch: s4.welcome.epoch })
    const [n] = s4.notifications()
    assert.equal(n!.seq, 1)
    assert.equal(n!.data.loanId, afterLoss.loanId)
  } finally {
    await s4.close()
  }
})
