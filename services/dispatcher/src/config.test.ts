import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '@tidings/runtime'
import { loadDispatcherConfig } from './config.ts'

const minimal = { KAFKA_BROKERS: 'k1:9092, k2:9093', REDIS_URL: 'redis://r:6379' }

function failsOn(env: Record<string, string>, variable: string, message: RegExp): void {
  assert.throws(
    () => loadDispatcherConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
      assert.equal(err.variable, variable)
      assert.match(err.message, message)
      assert.match(err.message, new RegExp(`^${variable}\\b`), 'the message starts with the variable')
      return true
    },
  )
}

test('defaults', () => {
  const c = loadDispatcherConfig(minimal)
  assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9093'])
  assert.equal(c.kafka.groupId, 'tidings-dispatcher')
  assert.equal(c.kafka.partitionsConsumedConcurrently, 4)
  assert.deepEqual(
    [c.topics.loanDecisions, c.topics.notificationsRequested, c.topics.deadLetter],
    ['loan.decisions', 'notifications.requested', 'notifications.dlq'],
  )
  assert.equal(c.topics.partitions, 6)
  assert.equal(c.topics.deadLetterPartitions, 1)
  assert.deepEqual(c.redis, { url: 'redis://r:6379', timeoutMs: 10_000 })
  assert.deepEqual(c.retention, {
    inboxTtlSeconds: 86400,
    inboxCap: 1000,
    dedupeWindowSeconds: 86400,
    stateTtlSeconds: 2592000,
  })
  assert.equal(c.maxEventBytes, 65536)
  assert.equal(c.http.port, 9464)
  assert.equal(c.logLevel, 'info')
  assert.equal(c.shutdownGraceMs, 25000)
})

test('values are coerced from strings', () => {
  const c = loadDispatcherConfig({
    ...minimal,
    HTTP_PORT: '0',
    INBOX_CAP: '50',
    KAFKA_FROM_BEGINNING: 'false',
    LOG_LEVEL: 'debug',
  })
  assert.equal(c.http.port, 0)
  assert.equal(c.retention.inboxCap, 50)
  assert.equal(c.kafka.fromBeginning, false)
  assert.equal(c.logLevel, 'debug')
})

test('a Redis Cluster instead of a single Redis', () => {
  const c = loadDispatcherConfig({ KAFKA_BROKERS: 'k:9092', REDIS_CLUSTER_NODES: 'r1:7000,r2:7001' })
  assert.deepEqual(c.redis, {
    clusterNodes: [
      { host: 'r1', port: 7000 },
      { host: 'r2', port: 7001 },
    ],
    timeoutMs: 10_000,
  })
})

test('KAFKA_BROKERS is required and must be host:port entries', () => {
  failsOn({ REDIS_URL: 'redis://r' }, 'KAFKA_BROKERS', /required/)
  failsOn({ ...minimal, KAFKA_BROKERS: 'kafka' }, 'KAFKA_BROKERS', /host:port.*"kafka"/)
  failsOn({ ...minimal, KAFKA_BROKERS: 'k:9092,k:99999' }, 'KAFKA_BROKERS', /k:99999/)
  failsOn({ ...minimal, KAFKA_BROKERS: ' , ' }, 'KAFKA_BROKERS', /at least one/)
})

test('exactly one of REDIS_URL or REDIS_CLUSTER_NODES', () => {
  failsOn({ KAFKA_BROKERS: 'k:1' }, 'REDIS_URL', /exactly one of REDIS_URL or REDIS_CLUSTER_NODES/)
  failsOn({ ...minimal, REDIS_CLUSTER_NODES: 'r:7000' }, 'REDIS_CLUSTER_NODES', /exactly one/)
  failsOn({ ...minimal, REDIS_URL: 'http://r' }, 'REDIS_URL', /pattern/)
  failsOn(
    { KAFKA_BROKERS: 'k:1', REDIS_CLUSTER_NODES: 'redis1' },
    'REDIS_CLUSTER_NODES',
    /not host:port: redis1/,
  )
})

test('numbers out of range or not numbers', () => {
  failsOn({ ...minimal, HTTP_PORT: '70000' }, 'HTTP_PORT', /<= 65535/)
  failsOn({ ...minimal, INBOX_CAP: '0' }, 'INBOX_CAP', />= 1/)
  failsOn({ ...minimal, MAX_EVENT_BYTES: 'lots' }, 'MAX_EVENT_BYTES', /integer/)
  failsOn({ ...minimal, PARTITIONS_CONSUMED_CONCURRENTLY: '0' }, 'PARTITIONS_CONSUMED_CONCURRENTLY', />= 1/)
  failsOn({ ...minimal, LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /allowed values/)
})

test('the state must outlive the inbox', () => {
  failsOn(
    { ...minimal, INBOX_TTL_SECONDS: '7200', STATE_TTL_SECONDS: '3600' },
    'STATE_TTL_SECONDS',
    /at least INBOX_TTL_SECONDS \(7200\)/,
  )
})

test('a bad STATE_TTL_SECONDS is named, as in the gateway (one schema in @tidings/delivery)', () => {
  failsOn({ ...minimal, STATE_TTL_SECONDS: 'month' }, 'STATE_TTL_SECONDS', /integer/)
  failsOn({ ...minimal, STATE_TTL_SECONDS: '59' }, 'STATE_TTL_SECONDS', />= 60/)
  failsOn({ ...minimal, STATE_TTL_SECONDS: '31536001' }, 'STATE_TTL_SECONDS', /<= 31536000/)
})

test('the dead-letter topic must not be an input topic', () => {
  failsOn({ ...minimal, TOPIC_DLQ: 'loan.decisions' }, 'TOPIC_DLQ', /must differ from TOPIC_LOAN_DECISIONS/)
  failsOn(
    { ...minimal, TOPIC_NOTIFICATIONS_REQUESTED: 'loan.decisions' },
    'TOPIC_NOTIFICATIONS_REQUESTED',
    /must differ/,
  )
  failsOn({ ...minimal, TOPIC_DLQ: 'bad topic!' }, 'TOPIC_DLQ', /pattern/)
})

test('consumer group timings must be consistent', () => {
  failsOn(
    { ...minimal, KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '3000' },
    'KAFKA_HEARTBEAT_INTERVAL_MS',
    /third of KAFKA_SESSION_TIMEOUT_MS/,
  )
  failsOn({ ...minimal, RETRY_INITIAL_MS: '10000', RETRY_MAX_MS: '5000' }, 'RETRY_INITIAL_MS', /RETRY_MAX_MS/)
})

test('push hand-off: off without PUSH_TOPIC; kinds, broadcast topics and the window validated', () => {
  assert.equal(loadDispatcherConfig(minimal).push, undefined)
  const on = loadDispatcherConfig({
    ...minimal,
    PUSH_TOPIC: 'notifications.push',
    PUSH_KINDS: 'loan.decision, document.requested',
    PUSH_BROADCAST_TOPICS: 'alerts',
  })
  assert.equal(on.push?.topic, 'notifications.push')
  assert.equal(on.push?.afterMs, 30_000)
  assert.deepEqual([...(on.push?.kinds ?? [])], ['loan.decision', 'document.requested'])
  assert.deepEqual([...(on.push?.broadcastTopics ?? [])], ['alerts'])
  assert.equal(loadDispatcherConfig({ ...minimal, PUSH_TOPIC: 'p' }).push?.kinds, undefined, '* = every kind')

  failsOn({ ...minimal, PUSH_TOPIC: 'notifications.dlq' }, 'PUSH_TOPIC', /must differ from TOPIC_DLQ/)
  failsOn(
    { ...minimal, PUSH_TOPIC: 'p', PUSH_KINDS: 'Loan Decision' },
    'PUSH_KINDS',
    /not a notification kind/,
  )
  failsOn(
    { ...minimal, PUSH_TOPIC: 'p', PUSH_BROADCAST_TOPICS: 'a{b}' },
    'PUSH_BROADCAST_TOPICS',
    /not a topic/,
  )
  failsOn({ ...minimal, PUSH_BROADCAST_TOPICS: 'alerts' }, 'PUSH_BROADCAST_TOPICS', /needs PUSH_TOPIC/)
  failsOn({ ...minimal, PUSH_TOPIC: 'p', PUSH_AFTER_MS: '10' }, 'PUSH_AFTER_MS', /100/)
})
