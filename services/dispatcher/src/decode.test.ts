import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { IHeaders } from 'kafkajs'
import { type DecodeResult, decodeEvent } from './decode.ts'

const loan = {
  eventId: 'e-1',
  occurredAt: '2026-11-24T10:00:00.000Z',
  borrowerId: 'b-1042',
  loanId: 'L-77',
  decision: 'APPROVED',
  amount: { value: 50000, currency: 'BDT' },
  reasonCode: null,
  locale: 'en',
}
const requested = {
  eventId: 'r-1',
  occurredAt: '2026-11-24T10:00:00Z',
  userId: 'b-1042',
  kind: 'document.requested',
  title: 'Upload your NID',
  body: 'We need a copy of your national ID.',
}
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v))
const decodeLoan = (value: Buffer | null, headers?: IHeaders): DecodeResult =>
  decodeEvent({ value, headers }, 'loan.decision', 65536)

function rejected(res: DecodeResult): { reason: string; message: string } {
  assert.equal(res.ok, false, 'expected a rejection')
  return res as { ok: false; reason: string; message: string }
}

test('plain JSON loan decision', () => {
  const res = decodeLoan(json(loan))
  assert.ok(res.ok)
  assert.equal(res.value.type, 'loan.decision')
  assert.equal(res.value.encoding, 'json')
  assert.equal(res.value.event.borrowerId, 'b-1042')
})

test('plain JSON notification request', () => {
  const res = decodeEvent({ value: json(requested) }, 'notification.requested', 65536)
  assert.ok(res.ok)
  assert.equal(res.value.type, 'notification.requested')
  assert.equal(res.value.event.eventId, 'r-1')
})

test('CloudEvents structured mode with the content-type header; the CloudEvents id fills a missing eventId', () => {
  const { eventId: _e, ...data } = loan
  const envelope = { specversion: '1.0', id: 'ce-9', source: '/loans', type: 'loan.decision', data }
  const res = decodeLoan(json(envelope), {
    'content-type': Buffer.from('application/cloudevents+json; charset=UTF-8'),
  })
  assert.ok(res.ok)
  assert.equal(res.value.encoding, 'cloudevents-structured')
  assert.equal(res.value.event.eventId, 'ce-9')
})

test('an eventId in the data wins over the CloudEvents id', () => {
  const envelope = { specversion: '1.0', id: 'ce-9', source: '/loans', type: 'loan.decision', data: loan }
  const res = decodeLoan(json(envelope), { 'content-type': 'application/cloudevents+json' })
  assert.ok(res.ok)
  assert.equal(res.value.event.eventId, 'e-1')
})

test('a JSON value with specversion is structured mode even without the header; time fills occurredAt', () => {
  const { eventId: _e, occurredAt: _o, ...data } = loan
  const envelope = {
    specversion: '1.0',
    id: 'ce-10',
    source: '/loans',
    type: 'loan.decision',
    time: '2026-11-24T16:00:00+06:00',
    data,
  }
  const res = decodeLoan(json(envelope))
  assert.ok(res.ok)
  assert.equal(res.value.encoding, 'cloudevents-structured')
  assert.equal(res.value.event.eventId, 'ce-10')
  assert.equal(res.value.event.occurredAt, '2026-11-24T16:00:00+06:00')
})

test('structured mode with data_base64', () => {
  const envelope = {
    specversion: '1.0',
    id: 'ce-11',
    source: '/loans',
    type: 'loan.decision',
    datacontenttype: 'application/json',
    data_base64: json(loan).toString('base64'),
  }
  const res = decodeLoan(json(envelope), { 'content-type': 'application/cloudevents+json' })
  assert.ok(res.ok)
  assert.equal(res.value.event.eventId, 'e-1')
  assert.equal(res.value.type === 'loan.decision' && res.value.event.loanId, 'L-77')
})

test('CloudEvents binary mode: ce_* headers, the value is the data', () => {
  const { eventId: _e, ...data } = loan
  const res = decodeLoan(json(data), {
    ce_specversion: '1.0',
    ce_id: 'bin-1',
    ce_source: '/loans',
    ce_type: Buffer.from('loan.decision'),
    'content-type': 'application/json',
  })
  assert.ok(res.ok)
  assert.equal(res.value.encoding, 'cloudevents-binary')
  assert.equal(res.value.event.eventId, 'bin-1')
})

test('binary mode without a required attribute is an invalid CloudEvent', () => {
  const r = rejected(decodeLoan(json(loan), { ce_specversion: '1.0', ce_id: 'x', ce_type: 'loan.decision' }))
  assert.equal(r.reason, 'invalid_cloudevent')
  assert.match(r.message, /ce_source/)
})

test('a wrong specversion is an invalid CloudEvent', () => {
  const env = { specversion: '0.3', id: 'x', source: '/s', type: 'loan.decision', data: loan }
  assert.equal(rejected(decodeLoan(json(env))).reason, 'invalid_cloudevent')
})

test('binary mode with non-JSON data content type is an invalid CloudEvent', () => {
  const headers = {
    ce_specversion: '1.0',
    ce_id: 'x',
    ce_source: '/s',
    ce_type: 'loan.decision',
    'content-type': 'application/avro',
  }
  assert.equal(rejected(decodeLoan(json(loan), headers)).reason, 'invalid_cloudevent')
})

test('a CloudEvents type that does not belong on the topic is refused, in both modes', () => {
  const env = { specversion: '1.0', id: 'x', source: '/s', type: 'notification.requested', data: loan }
  const structured = rejected(decodeLoan(json(env), { 'content-type': 'application/cloudevents+json' }))
  assert.equal(structured.reason, 'unexpected_type')
  assert.match(structured.message, /notification\.requested.*loan\.decision/)
  const binary = rejected(
    decodeLoan(json(loan), { ce_specversion: '1.0', ce_id: 'x', ce_source: '/s', ce_type: 'loan.approved' }),
  )
  assert.equal(binary.reason, 'unexpected_type')
})

test('not JSON, not UTF-8, empty or a tombstone: invalid_json', () => {
  assert.equal(rejected(decodeLoan(Buffer.from('{"eventId":'))).reason, 'invalid_json')
  assert.equal(rejected(decodeLoan(Buffer.from('hello'))).reason, 'invalid_json')
  const notUtf8 = rejected(decodeLoan(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))
  assert.equal(notUtf8.reason, 'invalid_json')
  assert.match(notUtf8.message, /UTF-8/)
  assert.equal(rejected(decodeLoan(Buffer.alloc(0))).reason, 'invalid_json')
  assert.equal(rejected(decodeLoan(null)).reason, 'invalid_json')
})

test('a schema failure names the field', () => {
  const { borrowerId: _b, ...rest } = loan
  const r = rejected(decodeLoan(json(rest)))
  assert.equal(r.reason, 'invalid_schema')
  assert.match(r.message, /borrowerId/)

  const wrongType = rejected(decodeLoan(json({ ...loan, amount: { value: '5', currency: 'BDT' } })))
  assert.equal(wrongType.reason, 'invalid_schema')
  assert.match(wrongType.message, /amount/)
})

test('a JSON value that is not an object fails the schema', () => {
  assert.equal(rejected(decodeLoan(json([loan]))).reason, 'invalid_schema')
  assert.equal(rejected(decodeLoan(json('text'))).reason, 'invalid_schema')
})

test('a timestamp with the right shape but no such date fails the schema', () => {
  const r = rejected(decodeLoan(json({ ...loan, occurredAt: '2026-13-45T10:00:00Z' })))
  assert.equal(r.reason, 'invalid_schema')
  assert.match(r.message, /occurredAt/)
})

test('no lenient roll-over: a day the month lacks, or a UTC year past 9999, fails the schema', () => {
  // Date.parse made 2026-02-30 the 2nd of March, and -23:59 on 31 Dec 9999 the year +010000
  for (const [occurredAt, why] of [
    ['2026-02-30T10:00:00Z', /2026-02 has no day 30/],
    ['9999-12-31T23:59:59-23:59', /outside the years 0000–9999/],
  ] as const) {
    const r = rejected(decodeLoan(json({ ...loan, occurredAt })))
    assert.equal(r.reason, 'invalid_schema')
    assert.match(r.message, /^loan\.decision: \/occurredAt: not a real date and time: /)
    assert.match(r.message, why)
  }
  // the same through the CloudEvents time
  const { occurredAt: _o, ...data } = loan
  const ce = {
    specversion: '1.0',
    id: 'e-1',
    source: '//t',
    type: 'loan.decision',
    time: '2026-02-30T10:00:00Z',
    data,
  }
  assert.match(rejected(decodeLoan(json(ce))).message, /2026-02 has no day 30/)
})

test('a notification request with both userId and topic fails the schema', () => {
  const r = rejected(
    decodeEvent({ value: json({ ...requested, topic: 'announcements' }) }, 'notification.requested', 65536),
  )
  assert.equal(r.reason, 'invalid_schema')
  assert.match(r.message, /exactly one of userId or topic/)
})

test('a value over the size limit is too_large, before any parsing', () => {
  const big = Buffer.from(JSON.stringify({ ...loan, padding: 'x'.repeat(2000) }))
  const r = rejected(decodeEvent({ value: big }, 'loan.decision', 1024))
  assert.equal(r.reason, 'too_large')
  assert.match(r.message, /1024/)
})

test('an unknown decision is not a decoding problem (the mapping decides)', () => {
  assert.ok(decodeLoan(json({ ...loan, decision: 'ESCALATED' })).ok)
})

test('headers as Java producers send them: null values are absent, repeats take the first, bytes must be UTF-8 where read', () => {
  // kafkajs's typings omit null, but that is what it hands over for a header without a value
  const withNulls = { 'x-trace': null, 'content-type': [null, 'application/json'] } as unknown as IHeaders
  assert.ok(decodeLoan(json(loan), withNulls).ok)

  const binary = {
    ce_specversion: '1.0',
    ce_id: Buffer.from([0xff, 0xfe]),
    ce_source: '/loans',
    ce_type: 'loan.decision',
  }
  const bad = rejected(decodeLoan(json(loan), binary))
  assert.equal(bad.reason, 'invalid_cloudevent')
  assert.match(bad.message, /ce_id is not UTF-8/)

  const nullAttribute = { ce_specversion: '1.0', ce_id: null, ce_source: '/loans', ce_type: 'loan.decision' }
  assert.match(
    rejected(decodeLoan(json(loan), nullAttribute as unknown as IHeaders)).message,
    /ce_id is required/,
  )

  const repeated = { ce_specversion: ['1.0', '0.3'], ce_id: 'c-1', ce_source: '/l', ce_type: 'loan.decision' }
  assert.ok(decodeLoan(json(loan), repeated).ok)
  assert.ok(
    decodeLoan(json(loan), { 'x-opaque': Buffer.from([0xff, 0x00]) }).ok,
    'unread headers may be any bytes',
  )
})

test('headers named like Object.prototype members (as kafkajs decodes them) are plain headers', async () => {
  const { sendableHeaders } = await import('./headers.ts')
  // kafkajs's decoder sees obj['constructor'] !== undefined and makes [<inherited fn>, value]
  const decoded = JSON.parse('{"__proto__": "p"}') as Record<string, unknown>
  Reflect.set(decoded, 'constructor', [Object, Buffer.from('c')])
  decoded['x-null'] = [null, 'kept']
  const { headers, dropped } = sendableHeaders(decoded as IHeaders)
  assert.deepEqual(Object.keys(headers).sort(), ['__proto__', 'constructor', 'x-null'])
  assert.equal(String(headers.constructor), 'c')
  assert.equal(headers['x-null'], 'kept')
  assert.equal(Object.getPrototypeOf(headers), null)
  assert.deepEqual(dropped, ['x-null'])
  assert.ok(decodeLoan(json(loan), decoded as IHeaders).ok)
})

test('CloudEvents: occurredAt needs data.occurredAt or the time; id and time follow the eventId / occurredAt rules', () => {
  const { eventId: _e, occurredAt: _o, ...data } = loan
  const headers = (extra: Record<string, string> = {}): IHeaders => ({
    ce_specversion: '1.0',
    ce_id: 'e-1',
    ce_source: '//loans',
    ce_type: 'loan.decision',
    ...extra,
  })
  const neither = rejected(decodeLoan(json(data), headers()))
  assert.equal(neither.reason, 'invalid_schema')
  assert.match(
    neither.message,
    /\/occurredAt: Expected required property \(in the data, or the CloudEvents ce_time\)/,
  )
  // checked even when the data overrides them: the contract states them for every CloudEvent
  const withData = json({ ...data, eventId: 'e-1', occurredAt: '2026-11-24T10:00:00Z' })
  const longId = rejected(decodeLoan(withData, headers({ ce_id: 'x'.repeat(201) })))
  assert.equal(longId.reason, 'invalid_schema')
  assert.match(longId.message, /ce_id: has 201 characters, more than 200/)
  const lowerCase = rejected(decodeLoan(withData, headers({ ce_time: '2026-11-24t10:00:00z' })))
  assert.equal(lowerCase.reason, 'invalid_schema')
  assert.match(lowerCase.message, /ce_time: not a real date and time: .*upper-case/)
  assert.ok(decodeLoan(withData, headers({ ce_id: 'x'.repeat(200), ce_time: '2026-11-24T10:00:00Z' })).ok)
})
