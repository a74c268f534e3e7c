// One user's events keep their order even when one of their writes fails transiently and a later
// one of the same batch would have succeeded. The handler runs for real against a real Redis; the
// store is wrapped to fail one write once (fault injection, as a dropped connection would).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  createDeliveryStore,
  createRedisConnection,
  DEFAULT_RETENTION,
  type DeliveryStore,
} from '@tidings/delivery'
import { createLogger } from '@tidings/runtime'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import { createBatchHandler } from './batch.ts'
import { createDispatcherMetrics } from './metrics.ts'
import { batchOf, loanEvent } from './testing.ts'

const TOPIC = 'loan.decisions'

test('a transient failure of an earlier write never lets a later event of the same user overtake it', async (t) => {
  const redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'batch-order-test' })
  t.after(() => redis.quit())
  const real = createDeliveryStore(redis, DEFAULT_RETENTION)
  const user = uniqueName('u')
  const other = uniqueName('other')
  let failNext = true
  const store: DeliveryStore = {
    ...real,
    deliverToUser(userId, dedupeId, notification) {
      if (userId === user && failNext) {
        failNext = false
        return Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))
      }
      return real.deliverToUser(userId, dedupeId, notification)
    },
  }
  const handler = createBatchHandler({
    topicTypes: new Map([[TOPIC, 'loan.decision']]),
    maxEventBytes: 65_536,
    store,
    sendDeadLetters: async () => ({
      sent: 0,
      shortened: [],
      lost: [],
      error: new Error('no dead letter expected here'),
    }),
    metrics: createDispatcherMetrics([TOPIC]),
    logger: createLogger('batch-order-test', 'silent'),
    retry: { initialMs: 1, maxMs: 5 },
    stopping: new AbortController().signal,
  })
  const events = [
    loanEvent({ borrowerId: user, decision: 'APPROVED' }),
    loanEvent({ borrowerId: other, decision: 'REJECTED' }),
    loanEvent({ borrowerId: user, decision: 'DISBURSED' }),
  ]
  const { payload, resolved } = batchOf(TOPIC, events)
  await handler(payload)

  const read = await real.readInbox(user, {})
  assert.deepEqual(
    read.frames.map((f) => [JSON.parse(f).seq, JSON.parse(f).data.decision]),
    [
      [1, 'APPROVED'],
      [2, 'DISBURSED'],
    ],
  )
  assert.equal(failNext, false, 'the injected failure happened')
  assert.equal(resolved.at(-1), '2', 'every offset resolved in the end')
  assert.equal((await real.readInbox(other, {})).frames.length, 1)
})
