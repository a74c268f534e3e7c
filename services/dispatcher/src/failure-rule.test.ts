// The rule for a failed write: only unavailability is retried; a failure that retrying cannot fix
// becomes a dead letter. Errors are the real ones, from a real Redis and a real closed port.
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
import { freePorts, infraFromEnv, uniqueName } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import { createBatchHandler, isRedisUnavailable } from './batch.ts'
import type { DeadLetter } from './dead-letter.ts'
import { createDispatcherMetrics } from './metrics.ts'
import { batchOf, loanEvent } from './testing.ts'

const TOPIC = 'loan.decisions'

async function failureOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a failure')
}

test('unavailability is retried; replies about the data and language errors are not', async (t) => {
  const redis = new Redis(infraFromEnv().redisUrl)
  t.after(() => redis.quit())
  const key = uniqueName('str')
  await redis.set(key, 'x')
  const wrongType = await failureOf(redis.lpush(key, 'y'))
  assert.match(String(wrongType), /WRONGTYPE/)
  assert.equal(isRedisUnavailable(wrongType), false)
  const scriptError = await failureOf(redis.eval('return redis.call("NOSUCHCOMMAND")', 0))
  assert.equal(isRedisUnavailable(scriptError), false)

  const [port] = await freePorts(1)
  const down = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  down.on('error', () => undefined)
  t.after(() => down.disconnect())
  const refused = await failureOf(down.get('k'))
  assert.equal(isRedisUnavailable(refused), true, `${String(refused)} is unavailability`)

  const loading = Object.assign(new Error('LOADING Redis is loading the dataset in memory'), {
    name: 'ReplyError',
  })
  assert.equal(isRedisUnavailable(loading), true)
  const overflow = failureOf(Promise.resolve().then(() => JSON.stringify(nestedArray(20_000))))
  assert.equal(isRedisUnavailable(await overflow), false)
})

test('an event whose write fails for good becomes a dead letter instead of stalling the partition', async (t) => {
  const redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'failure-rule-test' })
  t.after(() => redis.quit())
  const real = createDeliveryStore(redis, DEFAULT_RETENTION)
  const poisoned = uniqueName('poisoned')
  const other = uniqueName('other')
  let poisonedWrites = 0
  const store: DeliveryStore = {
    ...real,
    async deliverToUsers(items) {
      const written = await real.deliverToUsers(items.filter((i) => i.userId !== poisoned))
      return items.map((i): DeliverOutcome => {
        if (i.userId !== poisoned) return written.shift()!
        poisonedWrites++
        // what JSON.stringify of a too-deep value throws inside the store
        try {
          JSON.stringify(nestedArray(20_000))
        } catch (error) {
          return { status: 'failed', error }
        }
        throw new Error('expected a RangeError')
      })
    },
  }
  const letters: DeadLetter[] = []
  const metrics = createDispatcherMetrics([TOPIC])
  const handler = createBatchHandler({
    topicTypes: new Map([[TOPIC, 'loan.decision']]),
    maxEventBytes: 65_536,
    store,
    sendDeadLetters: async (batch) => {
      letters.push(...batch)
      return { sent: batch.length, shortened: [], lost: [] }
    },
    metrics,
    logger: createLogger('failure-rule-test', 'silent'),
    retry: { initialMs: 1, maxMs: 5 },
    stopping: new AbortController().signal,
  })
  // three events of the poisoned user: each refused for good, none held back behind another
  const events = [poisoned, other, poisoned, poisoned].map((borrowerId) => loanEvent({ borrowerId }))
  const { payload, resolved } = batchOf(TOPIC, events)
  await handler(payload)

  assert.equal(poisonedWrites, 3, 'each tried once, not retried')
  assert.deepEqual(
    letters.map((l) => [l.message.offset, l.reason]),
    [
      ['0', 'internal_error'],
      ['2', 'internal_error'],
      ['3', 'internal_error'],
    ],
  )
  assert.match(letters[0]?.detail ?? '', /call stack/)
  assert.equal(
    (await metrics.redisRetries.get()).values[0]?.value ?? 0,
    0,
    'no backoff: Redis was never down',
  )
  assert.equal(resolved.at(-1), '3', 'every offset resolved')
  assert.equal((await real.readInbox(other, {})).frames.length, 1)
})

function nestedArray(depth: number): unknown {
  let v: unknown = []
  for (let i = 0; i < depth; i++) v = [v]
  return v
}
