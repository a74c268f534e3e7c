// One real dispatcher (own topics, own group) against the shared Kafka and Redis; each test uses its
// own user ids, so the tests are independent of each other's events.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type BroadcastFrame, CLOUDEVENT_TYPES } from '@tidings/contracts'
import { splitEntry, topicChannel, userStateKey } from '@tidings/delivery'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import type { Kafka, KafkaMessage, Producer } from 'kafkajs'
import type { DispatcherConfig } from './config.ts'
import { DLQ_HEADERS } from './dead-letter.ts'
import { notificationId } from './map.ts'
import type { Dispatcher } from './service.ts'
import {
  type Collector,
  collect,
  connectProducer,
  header,
  loanEvent,
  metricValue,
  type RedisReader,
  redisReader,
  startDispatcher,
  testConfig,
  testKafka,
  waitForInbox,
} from './testing.ts'

describe('dispatcher', () => {
  let config: DispatcherConfig
  let dispatcher: Dispatcher
  let kafka: Kafka
  let producer: Producer
  let dlq: Collector
  let reader: RedisReader
  let loanTopic: string
  let requestedTopic: string

  before(async () => {
    config = testConfig()
    loanTopic = config.topics.loanDecisions
    requestedTopic = config.topics.notificationsRequested
    dispatcher = await startDispatcher(config)
    kafka = testKafka(config)
    producer = await connectProducer(kafka)
    dlq = await collect(kafka, config.topics.deadLetter)
    reader = redisReader(infraFromEnv().redisUrl)
  })

  after(async () => {
    await Promise.allSettled([dispatcher?.close(), producer?.disconnect(), dlq?.stop()])
    reader?.close()
  })

  const send = (topic: string, key: string | null, value: Buffer | string | object, headers = {}) =>
    producer.send({
      topic,
      messages: [
        {
          key,
          value: Buffer.isBuffer(value) || typeof value === 'string' ? value : JSON.stringify(value),
          headers,
        },
      ],
    })

  const deadLettersFrom = (key: string): KafkaMessage[] =>
    dlq.messages.filter((m) => m.key?.toString() === key)

  test('loan decisions become notifications in the user inbox, seq 1, 2, 3 in event order', async () => {
    const user = uniqueName('u')
    const events = ['APPROVED', 'NEEDS_INFO', 'DISBURSED'].map((decision, i) =>
      loanEvent({ borrowerId: user, decision, loanId: `L-${i}`, occurredAt: `2026-11-24T1${i}:00:00+06:00` }),
    )
    for (const e of events) await send(loanTopic, user, e)

    const inbox = await waitForInbox(reader, user, 3)
    assert.equal(inbox.frames.length, 3)
    assert.deepEqual(
      inbox.frames.map((f) => [f.seq, f.data.decision]),
      [
        [1, 'APPROVED'],
        [2, 'NEEDS_INFO'],
        [3, 'DISBURSED'],
      ],
    )
    const first = inbox.frames[0]!
    assert.deepEqual(first, {
      type: 'notification',
      seq: 1,
      id: notificationId(loanTopic, events[0]!.eventId as string, { userId: user }),
      kind: 'loan.decision',
      createdAt: '2026-11-24T04:00:00.000Z',
      title: 'Your loan application has been approved!',
      body: 'Your loan L-0 for ৳50,000.00 has been approved.',
      data: { loanId: 'L-0', decision: 'APPROVED', amount: { value: 50000, currency: 'BDT' } },
    })
  })

  test('the same eventId twice gives one notification', async () => {
    const user = uniqueName('u')
    const event = loanEvent({ borrowerId: user })
    await send(loanTopic, user, event)
    await send(loanTopic, user, { ...event, decision: 'REJECTED' }) // same id, even with other content
    const marker = loanEvent({ borrowerId: user, decision: 'DISBURSED' })
    await send(loanTopic, user, marker)

    // the marker comes after the duplicate on the same partition: once it is in, the duplicate was handled
    const inbox = await waitForInbox(reader, user, 2)
    assert.deepEqual(
      inbox.frames.map((f) => [f.seq, f.data.decision]),
      [
        [1, 'APPROVED'],
        [2, 'DISBURSED'],
      ],
    )
    assert.ok((await metricValue(dispatcher, 'tidings_dispatcher_duplicates_total', { target: 'user' })) >= 1)
  })

  test('bad events go to the DLQ with the original key, value, headers and why; the partition moves on', async () => {
    const user = uniqueName('u')
    const notJson = Buffer.from('{"eventId": "half')
    const { borrowerId: _b, ...noBorrower } = loanEvent({ borrowerId: user })
    const unmapped = loanEvent({ borrowerId: user, decision: 'ESCALATED' })
    const tooLarge = loanEvent({ borrowerId: user, padding: 'x'.repeat(config.maxEventBytes) })
    const wrongType = {
      specversion: '1.0',
      id: uniqueName('ce'),
      source: '/t',
      type: 'loan.approved',
      data: loanEvent({ borrowerId: user }),
    }
    await send(loanTopic, user, notJson, { 'x-trace': 'keep-me' })
    await send(loanTopic, user, noBorrower)
    await send(loanTopic, user, unmapped)
    await send(loanTopic, user, tooLarge)
    await send(loanTopic, user, wrongType, { 'content-type': 'application/cloudevents+json' })
    const good = loanEvent({ borrowerId: user })
    await send(loanTopic, user, good)

    const inbox = await waitForInbox(reader, user, 1)
    assert.equal(inbox.frames.length, 1)
    assert.equal(inbox.frames[0]!.id, notificationId(loanTopic, good.eventId as string, { userId: user }))

    const letters = await waitFor(
      () => (deadLettersFrom(user).length >= 5 ? deadLettersFrom(user) : undefined),
      {
        message: '5 dead letters',
      },
    )
    assert.deepEqual(
      letters.map((m) => header(m, DLQ_HEADERS.error)),
      ['invalid_json', 'invalid_schema', 'unmapped', 'too_large', 'unexpected_type'],
    )
    const [first, second, third] = letters as [KafkaMessage, KafkaMessage, KafkaMessage]
    assert.deepEqual(first.value, notJson)
    assert.equal(first.key?.toString(), user)
    assert.equal(header(first, 'x-trace'), 'keep-me', 'original headers are kept')
    assert.equal(header(first, DLQ_HEADERS.sourceTopic), loanTopic)
    assert.match(header(first, DLQ_HEADERS.sourcePartition) ?? '', /^\d+$/)
    assert.match(header(first, DLQ_HEADERS.sourceOffset) ?? '', /^\d+$/)
    assert.match(header(first, DLQ_HEADERS.message) ?? '', /not JSON/)
    assert.match(header(second, DLQ_HEADERS.message) ?? '', /borrowerId/)
    assert.deepEqual(JSON.parse(third.value!.toString()), unmapped)
    assert.match(header(third, DLQ_HEADERS.message) ?? '', /ESCALATED/)
    // offsets are consecutive on one partition: the DLQ says exactly which records they were
    const offsets = letters.map((m) => Number(header(m, DLQ_HEADERS.sourceOffset)))
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => offsets[0]! + i),
    )
    assert.equal(new Set(letters.map((m) => header(m, DLQ_HEADERS.sourcePartition))).size, 1)

    assert.ok(
      (await metricValue(dispatcher, 'tidings_dispatcher_dead_letters_total', { reason: 'unmapped' })) >= 1,
    )
  })

  test('CloudEvents in binary and structured mode are delivered', async () => {
    const user = uniqueName('u')
    const { eventId: _e, ...binaryData } = loanEvent({ borrowerId: user, decision: 'REJECTED', locale: 'bn' })
    const binaryId = uniqueName('ce-bin')
    await send(loanTopic, user, binaryData, {
      ce_specversion: '1.0',
      ce_id: binaryId,
      ce_source: '/loan-service',
      ce_type: CLOUDEVENT_TYPES.loanDecision,
      'content-type': 'application/json',
    })
    const structuredId = uniqueName('ce-str')
    const { eventId: _s, ...structuredData } = loanEvent({ borrowerId: user, decision: 'APPROVED' })
    await send(
      loanTopic,
      user,
      {
        specversion: '1.0',
        id: structuredId,
        source: '/loan-service',
        type: CLOUDEVENT_TYPES.loanDecision,
        datacontenttype: 'application/json',
        data: structuredData,
      },
      { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    )

    const inbox = await waitForInbox(reader, user, 2)
    assert.deepEqual(
      inbox.frames.map((f) => f.id),
      [
        notificationId(loanTopic, binaryId, { userId: user }),
        notificationId(loanTopic, structuredId, { userId: user }),
      ],
    )
    assert.equal(inbox.frames[0]!.title, 'আপনার ঋণের আবেদন অনুমোদিত হয়নি')
  })

  test('notification requests: to a user inbox, and to a broadcast topic over sharded pub/sub', async () => {
    const user = uniqueName('u')
    const broadcastTopic = uniqueName('news')
    const sub = new Redis(infraFromEnv().redisUrl)
    const received: BroadcastFrame[] = []
    // the message is the frame, after the meta line (Kafka timestamp) the gateway strips
    sub.on('smessage', (_channel: string, message: string) =>
      received.push(JSON.parse(splitEntry(message).frame) as BroadcastFrame),
    )
    try {
      await sub.ssubscribe(topicChannel(broadcastTopic))
      const direct = {
        eventId: uniqueName('r'),
        occurredAt: '2026-11-24T10:00:00Z',
        userId: user,
        kind: 'document.requested',
        title: 'Upload your NID',
        body: 'We need a copy of your national ID.',
        data: { documentId: 'D-5' },
        internal: 'never forwarded',
      }
      const broadcast = {
        eventId: uniqueName('r'),
        occurredAt: '2026-11-24T10:00:00Z',
        topic: broadcastTopic,
        kind: 'announcement',
        title: 'Eid holidays',
        body: 'Our offices are closed on Monday.',
      }
      await send(requestedTopic, user, direct)
      await send(requestedTopic, broadcastTopic, broadcast)

      const inbox = await waitForInbox(reader, user, 1)
      const { type: _t, seq, ...n } = inbox.frames[0]!
      assert.equal(seq, 1)
      assert.deepEqual(n, {
        id: notificationId(requestedTopic, direct.eventId, { userId: user }),
        kind: 'document.requested',
        createdAt: '2026-11-24T10:00:00.000Z',
        title: 'Upload your NID',
        body: 'We need a copy of your national ID.',
        data: { documentId: 'D-5' },
      })

      await waitFor(() => received.length >= 1, { message: 'a broadcast frame' })
      assert.deepEqual(received, [
        {
          type: 'broadcast',
          topic: broadcastTopic,
          id: notificationId(requestedTopic, broadcast.eventId, { topic: broadcastTopic }),
          createdAt: '2026-11-24T10:00:00.000Z',
          title: 'Eid holidays',
          body: 'Our offices are closed on Monday.',
          data: {},
        },
      ])
    } finally {
      sub.disconnect()
    }
  })

  test('an event Redis refuses for good (a user key of the wrong type) is dead-lettered, not retried forever', async () => {
    const poisoned = uniqueName('u')
    const healthy = uniqueName('u')
    // someone else's bug: the poisoned user's state key holds a string instead of a hash
    await reader.redis.set(userStateKey(poisoned), 'not a hash', 'EX', 600)
    const key = uniqueName('k') // one key → one partition for both events
    const bad = loanEvent({ borrowerId: poisoned })
    await send(loanTopic, key, bad)
    await send(loanTopic, key, loanEvent({ borrowerId: healthy }))

    await waitForInbox(reader, healthy, 1)
    const [letter] = await waitFor(
      () => (deadLettersFrom(key).length >= 1 ? deadLettersFrom(key) : undefined),
      {
        message: 'a store_rejected dead letter',
      },
    )
    assert.equal(header(letter!, DLQ_HEADERS.error), 'store_rejected')
    assert.match(header(letter!, DLQ_HEADERS.message) ?? '', /WRONGTYPE/)
    assert.deepEqual(JSON.parse(letter!.value!.toString()), bad)
  })

  test('health, readiness and metrics endpoints', async () => {
    const base = `http://127.0.0.1:${dispatcher.httpPort}`
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    const ready = await fetch(`${base}/readyz`)
    assert.equal(ready.status, 200)
    assert.deepEqual(await ready.json(), { status: 'ready', consumer: true, redis: true })
    const metrics = await fetch(`${base}/metrics`)
    assert.equal(metrics.status, 200)
    const text = await metrics.text()
    for (const name of [
      'tidings_dispatcher_events_consumed_total',
      'tidings_dispatcher_notifications_delivered_total',
      'tidings_dispatcher_duplicates_total',
      'tidings_dispatcher_dead_letters_total',
      'tidings_dispatcher_redis_retries_total',
      'tidings_dispatcher_batch_duration_seconds_bucket',
      'process_resident_memory_bytes',
    ]) {
      assert.match(text, new RegExp(`^${name}`, 'm'), name)
    }
    // every reason is exported from the start, so alerts see 0 rather than no data
    assert.equal(
      await metricValue(dispatcher, 'tidings_dispatcher_dead_letters_total', { reason: 'internal_error' }),
      0,
    )
    assert.ok(
      (await metricValue(dispatcher, 'tidings_dispatcher_events_consumed_total', { topic: loanTopic })) > 0,
    )
    assert.equal((await fetch(`${base}/nope`)).status, 404)
  })
})
