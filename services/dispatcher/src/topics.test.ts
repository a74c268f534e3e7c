// The dispatcher creates its topics when they are missing, and its start waits until every partition
// has a leader (kafkajs's own waitForLeaders gives up on a broker whose metadata lags the creation).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLogger } from '@tidings/runtime'
import kafkajs from 'kafkajs'
import { testConfig, testKafka } from './testing.ts'
import { ensureTopics } from './topics.ts'

// kafkajs is CommonJS and Node's named-export detection misses this one
const { ConfigResourceTypes } = kafkajs

test('ensureTopics creates the missing topics with leaders, is idempotent and safe to race', async (t) => {
  const config = testConfig({ TOPIC_PARTITIONS: '5', TOPIC_DLQ_PARTITIONS: '2' })
  const kafka = testKafka(config)
  const logger = createLogger('dispatcher', 'silent')
  const { loanDecisions, notificationsRequested, deadLetter } = config.topics

  // Two dispatchers starting at the same moment: one creates, the other finds them created.
  const [a, b] = await Promise.all([ensureTopics(kafka, config, logger), ensureTopics(kafka, config, logger)])
  assert.deepEqual(
    [...new Set([...a, ...b])].sort(),
    [loanDecisions, notificationsRequested, deadLetter].sort(),
    'every topic created by one of them',
  )

  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  // No polling here: ensureTopics has returned, so the leaders must already be known.
  const { topics } = await admin.fetchTopicMetadata({
    topics: [loanDecisions, notificationsRequested, deadLetter],
  })
  const partitions = Object.fromEntries(
    topics.map((m) => [m.name, m.partitions.filter((p) => p.leader >= 0).length]),
  )
  assert.deepEqual(partitions, { [loanDecisions]: 5, [notificationsRequested]: 5, [deadLetter]: 2 })

  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: deadLetter, configNames: ['max.message.bytes'] }],
  })
  assert.equal(resources[0]?.configEntries[0]?.configValue, String(2 * 1024 * 1024), 'the DLQ takes 2 MiB')

  assert.deepEqual(await ensureTopics(kafka, config, logger), [], 'nothing to create the second time')
})
