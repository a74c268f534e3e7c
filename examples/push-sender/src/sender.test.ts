// The example sender against the real broker: one platform call per notification id, a duplicate
// request (which Tidings may produce after a dispatcher crash) skipped, junk skipped.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PushRequest } from '@tidings/contracts'
import { createTopics, infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { type PlatformCall, startSender, toPlatformCall } from './sender.ts'

const request = (over: Partial<PushRequest>): PushRequest => ({
  userId: 'b-1042',
  notificationId: 'n-1',
  seq: 3,
  kind: 'loan.decision',
  title: 'Your loan application has been approved!',
  body: 'Your loan of BDT 50,000.00 (L-77) has been approved.',
  data: { loanId: 'L-77', decision: 'APPROVED', amount: { value: 50000, currency: 'BDT' } },
  collapseKey: 'loan:L-77',
  ttlSeconds: 86_370,
  reason: 'unacked',
  createdAt: '2026-11-24T10:00:00.000Z',
  ...over,
})

test('one platform call per notification id; duplicates and junk skipped', async (t) => {
  const { kafkaBrokers } = infraFromEnv()
  const topic = uniqueName('push')
  await createTopics(kafkaBrokers, [topic], 1)
  const kafka = new Kafka({ clientId: 'push-sender-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING })
  const calls: PlatformCall[] = []
  const logs: Array<Record<string, unknown>> = []
  const consumer = await startSender({
    kafka,
    topic,
    groupId: uniqueName('push-sender'),
    devicesOf: (userId) => [`token-${userId}`],
    send: async (call) => {
      calls.push(call)
    },
    log: (line) => logs.push(line),
  })
  t.after(() => consumer.disconnect())
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  t.after(() => producer.disconnect())
  const broadcast = request({
    userId: undefined,
    topic: 'alerts',
    notificationId: 'n-2',
    reason: 'broadcast',
  })
  delete broadcast.seq
  await producer.send({
    topic,
    messages: [
      { key: 'b-1042', value: JSON.stringify(request({})) },
      { key: 'b-1042', value: JSON.stringify(request({})) },
      { key: 'x', value: 'not json' },
      { key: 'alerts', value: JSON.stringify(broadcast) },
    ],
  })
  await waitFor(() => logs.length >= 2 && calls.length >= 2, { timeoutMs: 30_000 })
  assert.deepEqual(
    calls.map((c) => [c.notificationId, c.fcm.message.token]),
    [
      ['n-1', 'token-b-1042'],
      ['n-2', '/topics/alerts'],
    ],
  )
  assert.deepEqual(
    logs.map((l) => l.msg),
    ['duplicate push request; skipped', 'not a push request; skipped'],
  )
})

test('the platform call carries the collapse key, the TTL and string data', () => {
  const call = toPlatformCall(request({}), 'tok', Date.parse('2026-11-24T10:00:00Z'))
  assert.equal(call.fcm.message.android.collapse_key, 'loan:L-77')
  assert.equal(call.fcm.message.android.ttl, '86370s')
  assert.equal(call.apns.headers['apns-collapse-id'], 'loan:L-77')
  assert.equal(
    call.apns.headers['apns-expiration'],
    String(Date.parse('2026-11-24T10:00:00Z') / 1000 + 86_370),
  )
  assert.deepEqual(call.fcm.message.data, {
    notificationId: 'n-1',
    kind: 'loan.decision',
    loanId: 'L-77',
    decision: 'APPROVED',
    amount: '{"value":50000,"currency":"BDT"}',
  })
})
