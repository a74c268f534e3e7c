// Each record's work runs in that record's span (RecordTrace.run), the push hand-off included: its
// Redis commands (presence count, schedule) are children of the record's span, as they were when
// records were written one by one. The handler runs for real against a real Redis; the tracer and
// the push hand-off are stand-ins that tell which record's span was active.
import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { test } from 'node:test'
import { createDeliveryStore, createRedisConnection, DEFAULT_RETENTION } from '@tidings/delivery'
import { createLogger } from '@tidings/runtime'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import { createBatchHandler } from './batch.ts'
import { createDispatcherMetrics } from './metrics.ts'
import type { PushHandOff } from './push.ts'
import { batchOf, loanEvent } from './testing.ts'
import type { RecordTracer } from './tracing.ts'

const TOPIC = 'loan.decisions'

test('the push hand-off of each record runs in that record’s span', async (t) => {
  const redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'batch-trace-test' })
  t.after(() => redis.quit())
  const activeRecord = new AsyncLocalStorage<string>()
  const tracer: RecordTracer = {
    start: (message) => ({
      meta: {},
      run: (fn) => activeRecord.run(message.offset, fn),
      end: () => undefined,
    }),
  }
  // loanId → the record whose span was active when its push was scheduled
  const pushedIn = new Map<string, string | undefined>()
  const push: PushHandOff = {
    async afterUserDelivery(_userId, notification) {
      pushedIn.set(String(notification.data.loanId), activeRecord.getStore())
    },
    async afterBroadcast() {},
    start() {},
    async stop() {},
  }
  const handler = createBatchHandler({
    topicTypes: new Map([[TOPIC, 'loan.decision']]),
    maxEventBytes: 65_536,
    store: createDeliveryStore(redis, DEFAULT_RETENTION),
    sendDeadLetters: async () => ({ sent: 0, shortened: [], lost: [], error: new Error('none expected') }),
    metrics: createDispatcherMetrics([TOPIC]),
    logger: createLogger('batch-trace-test', 'silent'),
    retry: { initialMs: 1, maxMs: 5 },
    stopping: new AbortController().signal,
    tracer,
    push,
  })
  // several users in one call: only the first record's span carries the call itself
  const events = Array.from({ length: 5 }, (_, i) =>
    loanEvent({ borrowerId: uniqueName('u'), loanId: `L-${i}` }),
  )
  const { payload } = batchOf(TOPIC, events)
  await handler(payload)

  assert.deepEqual(
    [...pushedIn.entries()].sort(),
    events.map((_, i) => [`L-${i}`, String(i)]),
  )
})
