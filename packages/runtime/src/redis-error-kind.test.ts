// tidings_redis_errors_total{kind}: what each error Redis and ioredis really produce is counted as.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { REDIS_ERROR_KINDS, redisErrorKind } from './metrics.ts'

const named = (name: string, message: string) => Object.assign(new Error(message), { name })
const coded = (code: string, message = code) => Object.assign(new Error(message), { code })

test('every kind, from the messages the servers and ioredis send', () => {
  const cases: Array<[unknown, (typeof REDIS_ERROR_KINDS)[number]]> = [
    // REDIS_TIMEOUT_MS: ioredis's socketTimeout drops a mute connection with this message
    [new Error("Socket timeout. Expecting data, but didn't receive any in 1000ms."), 'timeout'],
    [new Error('Command timed out'), 'timeout'],
    [coded('ETIMEDOUT', 'read ETIMEDOUT'), 'timeout'],
    [new Error('Connection is closed.'), 'connection'],
    [coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6379'), 'connection'],
    [
      named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1).'),
      'connection',
    ],
    [new Error("OOM command not allowed when used memory > 'maxmemory'."), 'oom'],
    [new Error("READONLY You can't write against a read only replica."), 'readonly'],
    [new Error('LOADING Redis is loading the dataset in memory'), 'loading'],
    [new Error('MOVED 3999 127.0.0.1:6381'), 'cluster'],
    [named('ClusterAllFailedError', 'Failed to refresh slots cache.'), 'cluster'],
    [new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), 'wrongtype'],
    [new Error('NOSCRIPT No matching script. Please use EVAL.'), 'script'],
    [new Error('BUSY Redis is busy running a script.'), 'script'],
    [new Error('NOPERM User app has no permissions to access the channel'), 'other'],
  ]
  for (const [err, kind] of cases) assert.equal(redisErrorKind(err), kind, String((err as Error).message))
  assert.deepEqual(
    [...new Set(cases.map(([, k]) => k))].sort(),
    [...REDIS_ERROR_KINDS].sort(),
    'every kind is reachable',
  )
})
