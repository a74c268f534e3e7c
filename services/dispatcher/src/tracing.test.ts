import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { IHeaders, KafkaMessage } from 'kafkajs'
import { createRecordTracer, incomingTraceparent, recordTimestamp } from './tracing.ts'

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

const record = (headers: unknown, timestamp = '1764000000123'): KafkaMessage =>
  ({
    key: Buffer.from('b-1'),
    value: Buffer.from('{}'),
    timestamp,
    attributes: 0,
    offset: '7',
    headers: headers as IHeaders,
  }) as KafkaMessage

test('the traceparent header is read however it arrives, and only a well-formed one is used', () => {
  assert.equal(incomingTraceparent({ traceparent: TP }), TP)
  assert.equal(incomingTraceparent({ traceparent: Buffer.from(TP) }), TP, 'bytes')
  assert.equal(incomingTraceparent({ TraceParent: TP }), TP, 'any case')
  assert.equal(
    incomingTraceparent({ traceparent: [TP, '00-ffffffffffffffffffffffffffffffff-b7ad6b7169203331-01'] }),
    TP,
  )
  assert.equal(
    incomingTraceparent({ traceparent: [null, TP] } as unknown as IHeaders),
    TP,
    'a null first value',
  )
  assert.equal(
    incomingTraceparent({ traceparent: null } as unknown as IHeaders),
    undefined,
    'null (Java producers)',
  )
  assert.equal(
    incomingTraceparent({ traceparent: Buffer.from([0xff, 0xfe, 0x00]) }),
    undefined,
    'binary junk',
  )
  assert.equal(incomingTraceparent({ traceparent: 'garbage' }), undefined)
  assert.equal(incomingTraceparent({ traceparent: `ff${TP.slice(2)}` }), undefined, 'version ff')
  assert.equal(incomingTraceparent(undefined), undefined)
})

test('Kafka timestamps: only plausible ones start an age', () => {
  assert.equal(recordTimestamp({ timestamp: '1764000000123' }), 1764000000123)
  assert.equal(recordTimestamp({ timestamp: '-1' }), undefined)
  assert.equal(recordTimestamp({ timestamp: 'x' }), undefined)
})

test('tracing off: no span, but the Kafka timestamp and a valid incoming traceparent are passed on', async () => {
  const tracer = createRecordTracer(false)
  const t = tracer.start(record({ traceparent: TP, other: null }), 'loan.decisions', 0)
  assert.deepEqual(t.meta, { producedAt: 1764000000123, traceparent: TP })
  assert.equal(await t.run(async () => 42), 42)
  t.end('delivered')
  assert.deepEqual(tracer.start(record({ traceparent: 'bad' }, '-1'), 'loan.decisions', 0).meta, {})
})
