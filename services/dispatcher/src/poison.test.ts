// Records that stopped a partition (and, through kafkajs's fetch loop, every partition) before: each is
// sent with a real producer — null header values through the real Java client, as Spring producers send
// them — followed by a sentinel event for another user, which must arrive. Only unavailability is
// retried; everything else ends as a notification or a dead letter with its reason.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { produceRaw } from '@tidings/test/support/raw-producer'
import type { KafkaMessage } from 'kafkajs'
import { DLQ_HEADERS } from './dead-letter.ts'
import {
  collect,
  dispatcherWorld,
  header,
  loanEvent,
  testConfig,
  testKafka,
  waitForInbox,
} from './testing.ts'

/** `{"a":{"a":…{}}}` nested `depth` levels, built as text (JSON.stringify of it would overflow the stack). */
const nested = (depth: number): string => `${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}`

test('no poison record stops the dispatcher: null headers, deep data, a dead letter bigger than the DLQ allows', async (t) => {
  const config = testConfig({ TOPIC_PARTITIONS: '1' })
  const { redisUrl } = infraFromEnv()
  // An operator created the DLQ with a small max.message.bytes before the first start.
  const setup = testKafka(config).admin()
  await setup.connect()
  await setup.createTopics({
    waitForLeaders: false,
    topics: [
      {
        topic: config.topics.deadLetter,
        numPartitions: 1,
        configEntries: [{ name: 'max.message.bytes', value: '32768' }],
      },
    ],
  })
  await setup.disconnect()
  const { kafka, producer, reader } = await dispatcherWorld(t, config, redisUrl)
  const dlq = await collect(kafka, config.topics.deadLetter)
  t.after(() => dlq.stop())
  const brokers = config.kafka.brokers

  const nullHeaderUser = uniqueName('u-nullhdr')
  const badNullHeaderKey = uniqueName('k-bad-nullhdr')
  const deepUser = uniqueName('u-deep')
  const bigKey = uniqueName('k-big')
  const sentinel = uniqueName('u-sentinel')
  const nestedData = `{"eventId":"${uniqueName('evt')}","occurredAt":"2026-11-24T10:00:00.000Z","userId":"${deepUser}","kind":"note","title":"t","body":"b","data":${nested(5000)}}`

  await produceRaw(brokers, [
    // a valid event whose headers include null values and a repeated name: delivered, nulls ignored
    {
      topic: config.topics.loanDecisions,
      key: nullHeaderUser,
      value: JSON.stringify(loanEvent({ borrowerId: nullHeaderUser })),
      headers: [
        ['x-trace', null],
        ['x-dup', 'one'],
        ['x-dup', 'two'],
        ['x-bin', Buffer.from([0xff, 0x00, 0xfe])],
      ],
    },
    // a bad event with a null header: a dead letter that keeps the other headers
    {
      topic: config.topics.loanDecisions,
      key: badNullHeaderKey,
      value: 'not json',
      headers: [
        ['x-null', null],
        ['x-keep', 'kept'],
      ],
    },
  ])
  // ~25 KB, under MAX_EVENT_BYTES, nested 5,000 levels
  await producer.send({
    topic: config.topics.notificationsRequested,
    messages: [{ key: deepUser, value: nestedData }],
  })
  // a bad event whose dead letter (50 KB value) cannot fit the operator's 32 KiB DLQ
  await producer.send({
    topic: config.topics.loanDecisions,
    messages: [{ key: bigKey, value: `x${'y'.repeat(50_000)}` }],
  })
  await producer.send({
    topic: config.topics.loanDecisions,
    messages: [{ key: sentinel, value: JSON.stringify(loanEvent({ borrowerId: sentinel })) }],
  })

  // the sentinel comes after every poison record on the same (only) partition
  const sentinelInbox = await waitForInbox(reader, sentinel, 1, 30_000)
  assert.equal(sentinelInbox.frames[0]?.data.decision, 'APPROVED')
  const delivered = await waitForInbox(reader, nullHeaderUser, 1)
  assert.equal(delivered.frames[0]?.data.decision, 'APPROVED')
  assert.equal((await reader.inbox(deepUser)).frames.length, 0)

  const letter = (key: string): Promise<KafkaMessage> =>
    waitFor(() => dlq.messages.find((m) => m.key?.toString() === key), {
      timeoutMs: 15_000,
      message: `a dead letter keyed ${key}`,
    })

  const badNull = await letter(badNullHeaderKey)
  assert.equal(header(badNull, DLQ_HEADERS.error), 'invalid_json')
  assert.equal(header(badNull, 'x-keep'), 'kept')
  assert.equal(badNull.headers?.['x-null'], undefined, 'a null header cannot be copied by kafkajs')
  assert.equal(header(badNull, DLQ_HEADERS.droppedHeaders), 'x-null')

  const deep = await letter(deepUser)
  assert.equal(header(deep, DLQ_HEADERS.error), 'invalid_schema')
  assert.match(header(deep, DLQ_HEADERS.message) ?? '', /\/data.*nest/)
  assert.equal(header(deep, DLQ_HEADERS.truncated), undefined)
  assert.ok(deep.value?.toString() === nestedData, 'a dead letter that fits keeps its value byte for byte')

  const big = await letter(bigKey)
  assert.equal(header(big, DLQ_HEADERS.error), 'invalid_json')
  assert.equal(header(big, DLQ_HEADERS.truncated), 'value')
  assert.equal(header(big, DLQ_HEADERS.originalValueBytes), '50001')
  assert.ok((big.value?.length ?? 0) < 32768, 'the truncated value fits the topic')
  assert.ok(big.value?.toString().startsWith('xyyy'), 'the truncated value is a prefix of the original')
})

for (const compression of ['snappy', 'lz4', 'zstd'] as const)
  test(`a ${compression}-compressed batch (compression.type of Java, librdkafka and franz-go producers) is read like any other`, async (t) => {
    const config = testConfig({ TOPIC_PARTITIONS: '1' })
    const { reader } = await dispatcherWorld(t, config, infraFromEnv().redisUrl)
    // two records, one batch: a batch kafkajs could not decompress stopped the partition for good
    const users = [uniqueName(`u-${compression}`), uniqueName(`u-${compression}`)]
    await produceRaw(
      config.kafka.brokers,
      users.map((u) => ({
        topic: config.topics.loanDecisions,
        key: u,
        value: JSON.stringify(loanEvent({ borrowerId: u })),
      })),
      { compression },
    )
    for (const u of users)
      assert.equal((await waitForInbox(reader, u, 1)).frames[0]?.data.decision, 'APPROVED')
  })
