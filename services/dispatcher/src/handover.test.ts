// Dispatchers come and go in one consumer group while events keep arriving: every event must end
// up in its user's inbox exactly once, in the order it was produced.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { notificationId } from './map.ts'
import {
  committedTotal,
  dispatcherWorld,
  loanEvent,
  metricValue,
  startDispatcher,
  testConfig,
} from './testing.ts'

test('a second dispatcher joins and the first one stops mid-stream: each event delivered exactly once', async (t) => {
  const config = testConfig({ TOPIC_PARTITIONS: '4', PARTITIONS_CONSUMED_CONCURRENTLY: '2' })
  const topic = config.topics.loanDecisions
  const {
    dispatcher: first,
    producer,
    admin,
    reader,
  } = await dispatcherWorld(t, config, infraFromEnv().redisUrl)

  const users = Array.from({ length: 8 }, () => uniqueName('u'))
  const produced = new Map<string, string[]>(users.map((u) => [u, []]))
  let sent = 0
  // Small sends, one after the other, so that rebalances land between and inside batches.
  const produce = async (rounds: number) => {
    for (let r = 0; r < rounds; r++) {
      const events = users.map((u) => loanEvent({ borrowerId: u }))
      // every 5th round re-sends the previous round's events too: redeliveries must not count twice
      const resend = r % 5 === 4 ? users.map((u) => produced.get(u)!.at(-1)!) : []
      await producer.send({
        topic,
        messages: [
          ...events.map((e) => ({ key: e.borrowerId as string, value: JSON.stringify(e) })),
          ...resend.map((id, i) => ({
            key: users[i]!,
            value: JSON.stringify(loanEvent({ borrowerId: users[i], eventId: id })),
          })),
        ],
      })
      for (const e of events) produced.get(e.borrowerId as string)!.push(e.eventId as string)
      sent += events.length + resend.length
    }
  }
  const totalInInboxes = async () =>
    (await Promise.all(users.map((u) => reader.inbox(u)))).reduce((n, v) => n + v.frames.length, 0)

  await produce(20)
  await waitFor(async () => (await totalInInboxes()) >= 40, { message: 'the first dispatcher is delivering' })

  // A second dispatcher joins the group: the partitions are split between the two.
  const second = await startDispatcher(config)
  t.after(() => second.close())
  await produce(20)

  // The first stops while events are still arriving and being processed (its metrics are read
  // before, as its HTTP server goes with it).
  const consumedByFirst = await metricValue(first, 'tidings_dispatcher_events_consumed_total', { topic })
  const closing = first.close()
  await produce(20)
  await closing
  await produce(20)

  const expected = [...produced.values()].reduce((n, ids) => n + ids.length, 0)
  await waitFor(async () => (await totalInInboxes()) >= expected, {
    timeoutMs: 30_000,
    message: `${expected} notifications delivered`,
  })
  for (const user of users) {
    const { frames } = await reader.inbox(user)
    assert.deepEqual(
      frames.map((f) => f.id),
      produced.get(user)!.map((id) => notificationId(topic, id, { userId: user })),
      `inbox of ${user}: every event once, in order`,
    )
    assert.deepEqual(
      frames.map((f) => f.seq),
      frames.map((_, i) => i + 1),
      'seqs are contiguous from 1',
    )
  }
  assert.ok(consumedByFirst > 0, 'the first dispatcher took part')
  assert.ok(
    (await metricValue(second, 'tidings_dispatcher_events_consumed_total', { topic })) > 0,
    'the second dispatcher took part',
  )
  await waitFor(async () => (await committedTotal(admin, config.kafka.groupId, topic)) === sent, {
    message: `all ${sent} records committed`,
  })
})
