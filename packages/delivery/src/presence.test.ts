import { after, before, test } from 'node:test'
import { infraFromEnv } from '@tidings/test/infra'
import { createRedisConnection } from './connection.ts'
import type { RedisClient } from './redis-client.ts'
import { exerciseRefreshMany } from './test-support.ts'

let redis: RedisClient
before(() => {
  redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'presence-test' })
})
after(() => redis.disconnect())

test('refreshMany extends every entry in one call and re-adds none that left', () =>
  exerciseRefreshMany(redis))
