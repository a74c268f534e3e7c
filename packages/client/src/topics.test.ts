import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkTopic, createTopics } from './topics.ts'
import type { Transport } from './transport.ts'

const recorder = () => {
  const sent: unknown[] = []
  const t: Transport = { kind: 'websocket', send: (f) => sent.push(f) > 0, close: () => undefined }
  return { t, sent }
}

test('subscribe/unsubscribe remember the topic and tell a live session; joinAll rejoins them all', () => {
  const topics = createTopics(['a'])
  const { t, sent } = recorder()
  topics.subscribe('b', undefined) // not connected: remembered only
  topics.subscribe('c', t)
  topics.subscribe('c', t) // already there: nothing sent
  topics.unsubscribe('a', t)
  topics.unsubscribe('zzz', t) // unknown: nothing sent
  assert.deepEqual(topics.list(), ['b', 'c'])
  assert.deepEqual(sent, [
    { type: 'subscribe', topic: 'c' },
    { type: 'unsubscribe', topic: 'a' },
  ])
  sent.length = 0
  topics.joinAll(t)
  topics.joinAll(undefined)
  assert.deepEqual(sent, [
    { type: 'subscribe', topic: 'b' },
    { type: 'subscribe', topic: 'c' },
  ])
})

test('invalid names are refused', () => {
  assert.throws(() => checkTopic('no spaces allowed'), TypeError)
  assert.throws(() => createTopics([]).subscribe('', undefined), TypeError)
})
