// Fuzz of the dispatcher with malformed Kafka records, sent byte for byte by the real Java client (null
// and repeated headers included) to a real dispatcher process: no crash, no error logged, every bad
// record on the dead-letter topic with its reason, every valid one delivered, and a sentinel event after
// each batch of bad ones delivered in order — no record stalls a partition.
// `pnpm test` runs a short version; `pnpm test:fuzz` (TIDINGS_FUZZ=full) the full one.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createDeliveryStore, DEFAULT_RETENTION } from '@tidings/delivery'
import { Redis } from 'ioredis'
import { groupLag, kafkaClient, readTopic } from '../e2e/kafka.ts'
import { type Stack, startStack } from '../e2e/stack.ts'
import { infraFromEnv, uniqueName, waitFor } from '../infra/index.ts'
import { produceRaw, type RawRecord } from '../support/raw-producer.ts'
import { type FuzzRecord, fuzzRecords } from './kafka-records.ts'

const FULL = process.env.TIDINGS_FUZZ === 'full'
const COUNT = FULL ? 1200 : 200
const BATCH = 50
const SENTINEL_USERS = 6
const SEED = Number(process.env.TIDINGS_FUZZ_SEED ?? 20261125)
const MAX_EVENT_BYTES = 65_536

let stack: Stack
let redis: Redis

before(async () => {
  const { kafkaBrokers, redisUrl } = infraFromEnv()
  stack = await startStack({ name: 'fuzz-kafka', redisUrl, kafkaBrokers, gateways: 0, partitions: 3 })
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
})

after(async () => {
  redis?.disconnect()
  await stack?.stop()
})

test(`${COUNT} malformed records (seed ${SEED}) with a sentinel after every ${BATCH}: nothing stalls, nothing crashes`, async () => {
  const { kafkaBrokers } = infraFromEnv()
  const run = uniqueName(`fuzz-${SEED}`) // user ids of their own: the run's Redis is shared
  const fuzz = fuzzRecords(COUNT, SEED, stack.topics, MAX_EVENT_BYTES, run)
  const sentinelUser = (b: number) => `${run}-sentinel-${b % SENTINEL_USERS}`
  const records: RawRecord[] = []
  let sentinels = 0
  for (let i = 0; i < fuzz.length; i += BATCH) {
    records.push(...fuzz.slice(i, i + BATCH))
    const user = sentinelUser(sentinels)
    records.push({
      topic: stack.topics.loanDecisions,
      key: user,
      value: JSON.stringify({
        eventId: `${run}-sentinel-${sentinels}`,
        occurredAt: '2026-11-24T10:00:00.000Z',
        borrowerId: user,
        loanId: `L-${sentinels}`,
        decision: 'APPROVED',
      }),
    })
    sentinels++
  }
  await produceRaw(kafkaBrokers, records)

  // every sentinel, in order, for each sentinel user
  const store = createDeliveryStore(redis, DEFAULT_RETENTION)
  for (let u = 0; u < Math.min(SENTINEL_USERS, sentinels); u++) {
    const expected = Array.from({ length: sentinels }, (_, b) => b).filter((b) => b % SENTINEL_USERS === u)
    const frames = await waitFor(
      async () => {
        const read = await store.readInbox(sentinelUser(u), {})
        return read.frames.length >= expected.length ? read.frames.map((f) => JSON.parse(f)) : undefined
      },
      { timeoutMs: 120_000, message: `${expected.length} sentinels for ${sentinelUser(u)}` },
    )
    assert.deepEqual(
      frames.map((f: { data: { loanId: string } }) => f.data.loanId),
      expected.map((b) => `L-${b}`),
    )
    assert.deepEqual(
      frames.map((f: { seq: number }) => f.seq),
      expected.map((_, i) => i + 1),
    )
  }

  // every bad record is a dead letter with an expected reason; every valid one is delivered
  // everything consumed (and committed only once stored or dead-lettered): then read the whole DLQ
  const inputs = [stack.topics.loanDecisions, stack.topics.notificationsRequested]
  await waitFor(async () => (await groupLag(kafkaBrokers, stack.groupId, inputs)) === 0, {
    timeoutMs: 120_000,
    message: 'the dispatcher consumed every record',
  })
  const bad = fuzz.filter((r) => r.outcome.kind === 'dead-letter')
  const letters = await readTopic(
    kafkaBrokers,
    stack.topics.deadLetter,
    await recordCount(stack.topics.deadLetter),
  )
  const byKey = new Map(letters.map((l) => [l.key, l]))
  const wrong: string[] = []
  for (const r of bad) {
    const letter = byKey.get(r.key)
    const reasons = (r.outcome as { reasons: readonly string[] }).reasons
    const reason = letter?.headers['tidings-error']
    if (!letter) wrong.push(`${r.key} (${r.category}): no dead letter`)
    else if (!reason || !reasons.includes(reason)) {
      wrong.push(`${r.key} (${r.category}): ${reason} (${letter.headers['tidings-error-message']})`)
    }
  }
  assert.deepEqual(wrong, [])
  assert.equal(letters.length, bad.length, 'one dead letter per bad record')
  for (const r of fuzz.filter((f: FuzzRecord) => f.outcome.kind === 'delivered')) {
    assert.equal((await store.readInbox(r.key, {})).frames.length, 1, `${r.key} (${r.category}) delivered`)
  }

  // still running, and nothing went wrong inside it
  const dispatcher = stack.dispatcher!
  assert.equal(dispatcher.running, true, 'the dispatcher is still running')
  const errors = dispatcher.logLines().filter((l) => Number(l.level) >= 50)
  assert.deepEqual(errors, [], 'no error logged')
  assert.equal((await fetch(`${dispatcher.baseUrl}/readyz`)).status, 200)
  const categories = new Set(fuzz.map((f) => f.category))
  process.stdout.write(
    `fuzz: ${fuzz.length} records in ${categories.size} categories, ${bad.length} dead letters, ${sentinels} sentinels delivered\n`,
  )
})

async function recordCount(topic: string): Promise<number> {
  const admin = kafkaClient(infraFromEnv().kafkaBrokers).admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
  } finally {
    await admin.disconnect()
  }
}
