// One user's events keep their order even when one of their writes fails transiently and a later
// one of the same batch would have succeeded. The handler runs for real against a real Redis; the
// store is wrapped to fail one write once (fault injection, as a dropped connection would).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  createDeliveryStore,
  createRedisConnection,
  DEFAULT_RETENTION,
  type DeliverOutcome,
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
  const faulty = failFirstWriteOf(real, user)
  const store = faulty.store
  const handler = handlerWith(store)
  const events = [
    loanEvent({ borrowerId: user, decision: 'APPROVED' }),
    loanEvent({ borrowerId: other, decision: 'REJECTED' }),
    loanEvent({ borrowerId: user, decision: 'DISBURSED' }),
  ]
  const { payload, resolved } = batchOf(TOPIC, events)
  await handler(payload)

  assert.deepEqual(await decisions(real, user), [
    [1, 'APPROVED'],
    [2, 'DISBURSED'],
  ])
  assert.equal(faulty.failed(), true, 'the injected failure happened')
  assert.equal(resolved.at(-1), '2', 'every offset resolved in the end')
  assert.equal((await real.readInbox(other, {})).frames.length, 1)
})

test('a later event of a user is not written while an earlier one is in a call still in flight', async (t) => {
  const redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'batch-order-test' })
  t.after(() => redis.quit())
  const real = createDeliveryStore(redis, DEFAULT_RETENTION)
  const user = uniqueName('u')
  const faulty = failFirstWriteOf(real, user)
  // 250 records: several calls in flight at once, the user's two events in different ones
  const events = Array.from({ length: 250 }, (_, i) => loanEvent({ borrowerId: uniqueName(`o${i}`) }))
  events[0] = loanEvent({ borrowerId: user, decision: 'APPROVED' })
  events[180] = loanEvent({ borrowerId: user, decision: 'DISBURSED' })
  const { payload, resolved } = batchOf(TOPIC, events)
  await handlerWith(faulty.store)(payload)

  assert.deepEqual(await decisions(real, user), [
    [1, 'APPROVED'],
    [2, 'DISBURSED'],
  ])
  assert.equal(faulty.failed(), true, 'the injected failure happened')
  assert.equal(resolved.at(-1), '249', 'every offset resolved in the end')
  // resolved offsets only ever grow
  assert.deepEqual(
    resolved.map(Number),
    resolved.map(Number).toSorted((a, b) => a - b),
  )
})

/**
 * The store, except that the first write of `user` fails as a dropped connection fails it; the store
 * then skips the user's later items of the same call (InboxWriter's contract), as the real script does.
 */
function failFirstWriteOf(real: DeliveryStore, user: string): { store: DeliveryStore; failed(): boolean } {
  let failNext = true
  const store: DeliveryStore = {
    ...real,
    async deliverToUsers(items) {
      const first = items.findIndex((i) => i.userId === user)
      if (first < 0 || !failNext) return real.deliverToUsers(items)
      failNext = false
      const rest = items.filter((i, k) => k !== first && i.userId !== user)
      const written = await real.deliverToUsers(rest)
      const error = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
      return items.map((i, k): DeliverOutcome => {
        if (k === first) return { status: 'failed', error }
        if (i.userId === user) return { status: 'skipped' }
        return written.shift()!
      })
    },
  }
  return { store, failed: () => !failNext }
}

function handlerWith(store: DeliveryStore) {
  return createBatchHandler({
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
}

/** The user's inbox as [seq, decision] pairs. */
async function decisions(store: DeliveryStore, user: string): Promise<Array<[number, string]>> {
  const read = await store.readInbox(user, {})
  return read.frames.map((f) => [JSON.parse(f).seq, JSON.parse(f).data.decision])
}
