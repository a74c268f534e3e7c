import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTopics, infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { type IHeaders, Kafka, type KafkaMessage, logLevel, type Producer, type ProducerBatch } from 'kafkajs'
import { TOPICS } from './events.ts'
import {
  type BuiltEvent,
  broadcast,
  createEventProducer,
  type EventSender,
  InvalidEventError,
  type LoanDecisionInput,
  loanDecision,
  notificationForUser,
  toCloudEvent,
} from './producer.ts'
import { validateLoanDecision, validateNotificationRequested } from './validate.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

const loanInput: LoanDecisionInput = {
  borrowerId: 'b-1042',
  loanId: 'L-77',
  decision: 'APPROVED',
  amount: { value: 50000, currency: 'BDT' },
}

/** Runs fn, expects an InvalidEventError and returns it. */
function invalid(fn: () => unknown): InvalidEventError {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof InvalidEventError, `expected InvalidEventError, got ${String(err)}`)
    assert.equal(err.name, 'InvalidEventError')
    return err
  }
  assert.fail('expected an InvalidEventError, nothing was thrown')
}

describe('builders', () => {
  test('loanDecision fills eventId and occurredAt, keys by borrower, sets the headers', () => {
    const before = Date.now()
    const e = loanDecision(loanInput)
    assert.equal(e.type, 'loan.decision')
    assert.equal(e.topic, TOPICS.loanDecisions)
    assert.equal(e.key, 'b-1042')
    assert.match(e.eventId, UUID)
    assert.match(e.occurredAt, ISO_UTC)
    assert.ok(Date.parse(e.occurredAt) >= before && Date.parse(e.occurredAt) <= Date.now())
    assert.deepEqual(e.headers, { 'content-type': 'application/json', 'tidings-event-type': 'loan.decision' })
    assert.deepEqual(JSON.parse(e.value), {
      eventId: e.eventId,
      occurredAt: e.occurredAt,
      borrowerId: 'b-1042',
      loanId: 'L-77',
      decision: 'APPROVED',
      amount: { value: 50000, currency: 'BDT' },
    })
    assert.equal(validateLoanDecision(JSON.parse(e.value)).ok, true)
    assert.notEqual(loanDecision(loanInput).eventId, e.eventId, 'a fresh id per call')
  })

  test('a given eventId and occurredAt are used as they are; a Date becomes ISO UTC', () => {
    const e = loanDecision({
      ...loanInput,
      eventId: 'loan-L-77-3',
      occurredAt: new Date(Date.UTC(2026, 10, 24, 10)),
    })
    assert.equal(e.eventId, 'loan-L-77-3')
    assert.equal(e.occurredAt, '2026-11-24T10:00:00.000Z')
    const s = loanDecision({ ...loanInput, occurredAt: '2026-11-24T16:00:00+06:00' })
    assert.equal(JSON.parse(s.value).occurredAt, '2026-11-24T16:00:00+06:00')
  })

  test('nulls are kept, absent optional fields are omitted, unknown fields are never emitted', () => {
    const domainObject = {
      ...loanInput,
      amount: null,
      reasonCode: null,
      locale: 'bn',
      internalScore: 712,
      borrower: { name: 'Rahim', nid: '1990123456789' },
    } as LoanDecisionInput
    const value = JSON.parse(loanDecision(domainObject).value)
    assert.deepEqual(Object.keys(value).sort(), [
      'amount',
      'borrowerId',
      'decision',
      'eventId',
      'loanId',
      'locale',
      'occurredAt',
      'reasonCode',
    ])
    assert.equal(value.amount, null)
    const n = JSON.parse(
      notificationForUser({
        userId: 'u-1',
        kind: 'document.requested',
        title: 'T',
        body: 'B',
        secret: 'x',
      } as Parameters<typeof notificationForUser>[0]).value,
    )
    assert.deepEqual(Object.keys(n).sort(), ['body', 'eventId', 'kind', 'occurredAt', 'title', 'userId'])
  })

  test('validation errors name the field', () => {
    const missing = invalid(() => loanDecision({ ...loanInput, borrowerId: undefined } as never))
    assert.equal(missing.field, 'borrowerId')
    assert.equal(missing.eventType, 'loan.decision')
    assert.match(missing.message, /borrowerId/)

    assert.equal(invalid(() => loanDecision({ ...loanInput, borrowerId: 'b-{1}' })).field, 'borrowerId')
    assert.equal(invalid(() => loanDecision({ ...loanInput, loanId: '' })).field, 'loanId')

    const currency = invalid(() => loanDecision({ ...loanInput, amount: { value: 1, currency: 'bdt' } }))
    assert.equal(currency.field, 'amount.currency')
    const nan = invalid(() => loanDecision({ ...loanInput, amount: { value: Number.NaN, currency: 'BDT' } }))
    assert.equal(nan.field, 'amount.value')

    const reason = invalid(() => loanDecision({ ...loanInput, reasonCode: 'x'.repeat(200) }))
    assert.equal(reason.field, 'reasonCode')
    assert.match(reason.reason, /128/)

    const decision = invalid(() => loanDecision({ ...loanInput, decision: 'ESCALATED' as never }))
    assert.equal(decision.field, 'decision')
    assert.match(decision.reason, /unmapped/)
    assert.equal(invalid(() => loanDecision({ ...loanInput, locale: 'fr' as never })).field, 'locale')

    assert.equal(invalid(() => loanDecision({ ...loanInput, occurredAt: 'yesterday' })).field, 'occurredAt')
    assert.equal(
      invalid(() => loanDecision({ ...loanInput, occurredAt: '2026-13-01T00:00:00Z' })).field,
      'occurredAt',
    )
    assert.equal(
      invalid(() => loanDecision({ ...loanInput, occurredAt: new Date('nope') })).field,
      'occurredAt',
    )
    assert.equal(invalid(() => loanDecision({ ...loanInput, eventId: '' })).field, 'eventId')

    const base = { kind: 'document.requested', title: 'T', body: 'B' }
    const noUser = invalid(() => notificationForUser({ ...base } as never))
    assert.equal(noUser.field, 'userId')
    assert.equal(noUser.eventType, 'notification.requested')
    assert.equal(invalid(() => broadcast({ ...base } as never)).field, 'topic')
    assert.equal(invalid(() => broadcast({ ...base, topic: 'a b' })).field, 'topic')
    assert.equal(invalid(() => notificationForUser({ ...base, userId: 'u', kind: 'Doc!' })).field, 'kind')
    assert.equal(invalid(() => notificationForUser({ ...base, userId: 'u', title: '' })).field, 'title')
    assert.equal(
      invalid(() => notificationForUser({ ...base, userId: 'u', data: { n: 1n } })).field,
      'data',
      'a BigInt cannot be sent as JSON',
    )
  })

  test('notificationForUser keys by user id; broadcast keys by its topic name', () => {
    const content = {
      kind: 'document.requested',
      title: 'Upload your NID',
      body: 'We need a photo',
      data: { loanId: 'L-77' },
    }
    const u = notificationForUser({ ...content, userId: 'b-1042' })
    assert.equal(u.topic, TOPICS.notificationsRequested)
    assert.equal(u.key, 'b-1042')
    assert.equal(u.headers['tidings-event-type'], 'notification.requested')
    const uv = JSON.parse(u.value)
    assert.equal(uv.userId, 'b-1042')
    assert.equal('topic' in uv, false)
    assert.deepEqual(uv.data, { loanId: 'L-77' })
    assert.equal(validateNotificationRequested(uv).ok, true)

    const b = broadcast({ ...content, topic: 'announcements' })
    assert.equal(b.topic, TOPICS.notificationsRequested)
    assert.equal(b.key, 'announcements')
    const bv = JSON.parse(b.value)
    assert.equal(bv.topic, 'announcements')
    assert.equal('userId' in bv, false)
    assert.equal(validateNotificationRequested(bv).ok, true)
  })

  test('the Kafka topic can be overridden; built events are frozen', () => {
    const e = loanDecision(loanInput, { kafkaTopic: 'staging.loan.decisions' })
    assert.equal(e.topic, 'staging.loan.decisions')
    assert.ok(Object.isFrozen(e) && Object.isFrozen(e.headers))
  })

  test('toCloudEvent: binary-mode headers, the same value', () => {
    const e = loanDecision({ ...loanInput, eventId: 'e-1', occurredAt: '2026-11-24T10:00:00.000Z' })
    const ce = toCloudEvent(e, { source: '/loans/decision-service' })
    assert.deepEqual(ce.headers, {
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_id: 'e-1',
      ce_source: '/loans/decision-service',
      ce_type: 'loan.decision',
      ce_time: '2026-11-24T10:00:00.000Z',
    })
    assert.equal(ce.value, e.value)
    assert.equal(ce.key, e.key)
    assert.equal(ce.topic, e.topic)
    const b = toCloudEvent(broadcast({ topic: 'announcements', kind: 'news', title: 'T', body: '' }), {
      source: 'urn:x',
    })
    assert.equal(b.headers.ce_type, 'notification.requested')
    assert.equal(invalid(() => toCloudEvent(e, { source: '' })).field, 'source')
  })
})

describe('createEventProducer (recording sender)', () => {
  function recorder(): { sender: EventSender; batches: ProducerBatch[] } {
    const batches: ProducerBatch[] = []
    const sender: EventSender = {
      send: async () => assert.fail('the wrapper uses sendBatch'),
      sendBatch: async (batch) => {
        batches.push(batch)
        return []
      },
    }
    return { sender, batches }
  }

  test('sends with acks -1 to the configured topics and returns the event ids', async () => {
    const { sender, batches } = recorder()
    const events = createEventProducer(sender, {
      topics: { loanDecisions: 'ld', notificationsRequested: 'nr' },
    })
    const id = await events.loanDecision({ ...loanInput, eventId: 'e-1' })
    assert.equal(id, 'e-1')
    await events.notifyUser({ userId: 'u-1', kind: 'k', title: 'T', body: 'B' })
    await events.broadcast({ topic: 'announcements', kind: 'k', title: 'T', body: 'B' })
    assert.deepEqual(
      batches.map((b) => [b.acks, b.topicMessages?.map((t) => [t.topic, t.messages.map((m) => m.key)])]),
      [
        [-1, [['ld', ['b-1042']]]],
        [-1, [['nr', ['u-1']]]],
        [-1, [['nr', ['announcements']]]],
      ],
    )
  })

  test('sendMany groups by topic in one request and keeps the order of the ids', async () => {
    const { sender, batches } = recorder()
    const events = createEventProducer(sender)
    const list: BuiltEvent[] = [
      loanDecision({ ...loanInput, eventId: 'a' }),
      notificationForUser({ userId: 'u-1', kind: 'k', title: 'T', body: 'B', eventId: 'b' }),
      loanDecision({ ...loanInput, borrowerId: 'b-2', eventId: 'c' }),
    ]
    assert.deepEqual(await events.sendMany(list), ['a', 'b', 'c'])
    assert.equal(batches.length, 1)
    assert.deepEqual(
      batches[0]?.topicMessages?.map((t) => [t.topic, t.messages.map((m) => m.key)]),
      [
        [TOPICS.loanDecisions, ['b-1042', 'b-2']],
        [TOPICS.notificationsRequested, ['u-1']],
      ],
    )
    assert.deepEqual(await events.sendMany([]), [])
    assert.equal(batches.length, 1, 'nothing is sent for an empty list')
  })

  test('an invalid input rejects with InvalidEventError and sends nothing', async () => {
    const { sender, batches } = recorder()
    const events = createEventProducer(sender)
    await assert.rejects(events.notifyUser({ userId: 'u-1', kind: 'BAD KIND', title: 'T', body: 'B' }), {
      name: 'InvalidEventError',
      field: 'kind',
    })
    assert.equal(batches.length, 0)
  })

  test('cloudEvents option: every record is sent in binary mode', async () => {
    const { sender, batches } = recorder()
    const events = createEventProducer(sender, { cloudEvents: { source: '/svc' } })
    await events.loanDecision({ ...loanInput, eventId: 'e-9' })
    const headers = batches[0]?.topicMessages?.[0]?.messages[0]?.headers
    assert.equal(headers?.ce_id, 'e-9')
    assert.equal(headers?.ce_source, '/svc')
    assert.equal(headers?.ce_type, 'loan.decision')
    assert.equal(headers?.['tidings-event-type'], undefined)
    assert.throws(() => createEventProducer(sender, { cloudEvents: { source: '' } }), TypeError)
  })
})

describe('through a real Kafka broker', () => {
  const { kafkaBrokers } = infraFromEnv()
  const kafka = new Kafka({
    clientId: 'contracts-producer-test',
    brokers: kafkaBrokers,
    logLevel: logLevel.NOTHING,
  })
  let producer: Producer

  before(async () => {
    producer = kafka.producer({ idempotent: true })
    await producer.connect()
  })
  after(async () => {
    await producer.disconnect()
  })

  /** Consumes `topics` from the beginning into an array until `stop` is called. */
  async function readBack(topics: string[]) {
    const received: { topic: string; message: KafkaMessage }[] = []
    const consumer = kafka.consumer({ groupId: uniqueName('contracts-producer-test') })
    await consumer.connect()
    await consumer.subscribe({ topics, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        received.push({ topic, message })
      },
    })
    return { received, stop: () => consumer.disconnect() }
  }

  const text = (h: IHeaders | undefined): Record<string, string> =>
    Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, String(v)]))

  test('createEventProducer sends records a kafkajs consumer reads back as built', async () => {
    const loanTopic = uniqueName('loan.decisions')
    const requestedTopic = uniqueName('notifications.requested')
    await createTopics(kafkaBrokers, [loanTopic, requestedTopic], 3)
    const events = createEventProducer(producer, {
      topics: { loanDecisions: loanTopic, notificationsRequested: requestedTopic },
    })

    const loanId = await events.loanDecision({ ...loanInput, locale: 'bn' })
    const userId = await events.notifyUser({
      userId: 'b-1042',
      kind: 'document.requested',
      title: 'Upload your NID',
      body: 'We need a photo of your national ID card.',
      data: { loanId: 'L-77' },
    })
    const castId = await events.broadcast({
      topic: 'announcements',
      kind: 'news',
      title: 'Eid hours',
      body: '',
    })
    const many = await events.sendMany([
      loanDecision({ ...loanInput, borrowerId: 'b-7', decision: 'DISBURSED' }, { kafkaTopic: loanTopic }),
      toCloudEvent(
        loanDecision({ ...loanInput, borrowerId: 'b-8', decision: 'REJECTED' }, { kafkaTopic: loanTopic }),
        {
          source: '/loans/decision-service',
        },
      ),
    ])

    const { received, stop } = await readBack([loanTopic, requestedTopic])
    try {
      await waitFor(() => received.length === 5, { timeoutMs: 30_000, message: '5 records read back' })
    } finally {
      await stop()
    }
    const byId = new Map(
      received.map(({ topic, message }) => {
        const value = JSON.parse(message.value?.toString('utf8') ?? 'null')
        return [
          value.eventId as string,
          { topic, key: message.key?.toString(), value, headers: text(message.headers) },
        ]
      }),
    )

    const loan = byId.get(loanId)
    assert.equal(loan?.topic, loanTopic)
    assert.equal(loan?.key, 'b-1042')
    assert.deepEqual(loan?.headers, {
      'content-type': 'application/json',
      'tidings-event-type': 'loan.decision',
    })
    assert.equal(loan?.value.locale, 'bn')
    assert.equal(validateLoanDecision(loan?.value).ok, true)

    const user = byId.get(userId)
    assert.equal(user?.topic, requestedTopic)
    assert.equal(user?.key, 'b-1042')
    assert.deepEqual(user?.value.data, { loanId: 'L-77' })
    assert.equal(validateNotificationRequested(user?.value).ok, true)

    const cast = byId.get(castId)
    assert.equal(cast?.key, 'announcements')
    assert.equal(cast?.value.topic, 'announcements')

    assert.equal(byId.get(many[0] as string)?.key, 'b-7')
    const ce = byId.get(many[1] as string)
    assert.equal(ce?.key, 'b-8')
    assert.equal(ce?.headers.ce_specversion, '1.0')
    assert.equal(ce?.headers.ce_id, many[1])
    assert.equal(ce?.headers.ce_type, 'loan.decision')
    assert.equal(ce?.headers.ce_time, ce?.value.occurredAt)
  })

  test("one user's events keep their order (same key, same partition)", async () => {
    const topic = uniqueName('loan.decisions')
    await createTopics(kafkaBrokers, [topic], 3)
    const events = createEventProducer(producer, { topics: { loanDecisions: topic } })
    const ids: string[] = []
    for (const decision of ['NEEDS_INFO', 'APPROVED', 'DISBURSED'] as const) {
      ids.push(await events.loanDecision({ ...loanInput, borrowerId: 'b-order', decision }))
    }
    const { received, stop } = await readBack([topic])
    try {
      await waitFor(() => received.length === 3, { timeoutMs: 30_000, message: '3 records read back' })
    } finally {
      await stop()
    }
    assert.deepEqual(
      received.map((r) => JSON.parse(r.message.value?.toString('utf8') ?? 'null').eventId),
      ids,
    )
  })
})
