// The gateway's connect-path scripts (scripts-connect.ts) against a real Redis: they must answer
// exactly what the separate calls they replace answer.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Notification } from '@tidings/contracts'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import { createRedisConnection } from './connection.ts'
import { createInboxReader } from './inbox-reader-redis.ts'
import { userRateLimitKey } from './keys.ts'
import { DEFAULT_RETENTION } from './options.ts'
import { createPresenceStore } from './presence-redis.ts'
import type { RedisClient } from './redis-client.ts'
import { createRevocationStore } from './revocation.ts'
import { createSessionAdmission } from './session-admission.ts'
import { createDeliveryStore } from './store.ts'
import { createUserGate } from './user-gate.ts'

const n = (i: number): Notification => ({
  id: `n${i}`,
  kind: 'k',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: `t${i}`,
  body: 'b',
  data: { i },
})

describe('connect path scripts (real Redis)', () => {
  let redis: RedisClient
  before(() => {
    redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'connect-path-test' })
  })
  after(() => redis.disconnect())

  test('admission: presence join within the limit, the revocation and the same read as readInbox', async () => {
    const u = uniqueName('u')
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    const first = await store.deliverToUser(u, 'e1', n(1))
    await store.deliverToUser(u, 'e2', n(2))
    assert.ok(first.status === 'delivered')
    const admission = createSessionAdmission(redis, { presenceTtlMs: 60_000, stateTtlSeconds: 3600 })
    const reader = createInboxReader(redis, { stateTtlSeconds: 3600 })
    const presence = createPresenceStore(redis, { ttlMs: 60_000 })
    const revocations = createRevocationStore(redis, { ttlSeconds: 60 })

    const a = await admission.admit(u, 's1', 2, { lastSeq: 1, epoch: first.epoch })
    assert.ok(a.admitted)
    assert.deepEqual(a.read, await reader.readInbox(u, { lastSeq: 1, epoch: first.epoch }))
    assert.equal(a.read.frames.length, 1)
    assert.equal(a.revokedAt, undefined)
    assert.equal(await presence.count(u), 1)

    const at = await revocations.revoke(u)
    const b = await admission.admit(u, 's2', 2, {})
    assert.ok(b.admitted)
    assert.equal(b.revokedAt, at)
    assert.deepEqual(b.read, await reader.readInbox(u, {}))

    // full: refused, nothing added
    assert.deepEqual(await admission.admit(u, 's3', 2, {}), { admitted: false })
    assert.equal(await presence.count(u), 2)
  })

  test('admission of a new user creates the state as readInbox would; a stale seq is regressed', async () => {
    const u = uniqueName('u')
    const admission = createSessionAdmission(redis, { presenceTtlMs: 60_000, stateTtlSeconds: 3600 })
    const a = await admission.admit(u, 's1', 5, { lastSeq: 7, epoch: 'gone' })
    assert.ok(a.admitted)
    assert.equal(a.read.frames.length, 0)
    assert.equal(a.read.firstSeq, 1)
    const c = await admission.admit(u, 's2', 5, { lastSeq: 7, epoch: a.read.epoch })
    assert.ok(c.admitted && c.read.regressed)
  })

  test('user gate: revocation and a fixed-window count per user and name', async () => {
    const u = uniqueName('u')
    const gate = createUserGate(redis)
    const one = await gate.check(u, 'connect', 60, Date.now())
    assert.equal(one.revokedAt, undefined)
    assert.equal(one.count, 1)
    assert.ok(one.msBeforeNext > 59_000 && one.msBeforeNext <= 60_000)
    assert.equal((await gate.check(u, 'connect', 60, Date.now())).count, 2)
    assert.equal((await gate.check(u, 'http', 60, Date.now())).count, 1)
    const at = await createRevocationStore(redis, { ttlSeconds: 60 }).revoke(u)
    // refused as revoked (iat in or before the revocation's second): seen, not counted
    const refused = await gate.check(u, 'connect', 60, at - 5000)
    assert.equal(refused.revokedAt, at)
    assert.equal(refused.count, 0)
    assert.equal((await gate.check(u, 'connect', 60, undefined)).count, 0)
    // a token issued after it (a new login) counts on
    const later = await gate.check(u, 'connect', 60, at + 2000)
    assert.equal(later.revokedAt, at)
    assert.equal(later.count, 3)
    // a counter left without a TTL (never written so by the script) still gets one
    await redis.persist(userRateLimitKey(u, 'http'))
    const fixed = await gate.check(u, 'http', 60, at + 2000)
    assert.equal(fixed.msBeforeNext, 60_000)
    assert.ok((await redis.pttl(userRateLimitKey(u, 'http'))) > 0)
  })
})
