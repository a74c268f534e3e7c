// REDIS_TIMEOUT_MS (socketTimeout) against a private real Redis: a deadline of a connection that
// closed for another reason must not kill the next one, and a command cut off by the timeout after
// Redis ran it (ioredis re-sends it on the new connection) must not be refused by its own effect.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type RedisServer, startRedis, uniqueName, waitFor } from '@tidings/test/infra'
import { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { createSessionAdmission } from './session-admission.ts'

let server: RedisServer
let admin: Redis
before(async () => {
  server = await startRedis()
  admin = new Redis(server.url)
})
after(async () => {
  admin?.disconnect()
  await server?.stop()
})

const socketTimeouts = (redis: Redis) => {
  const seen: string[] = []
  redis.on('error', (err: Error) => {
    if (err.message.startsWith('Socket timeout')) seen.push(err.message)
  })
  return seen
}

test('a connection killed with a command pending: the new one is not dropped at the old deadline', async () => {
  const timeoutMs = 1000
  const redis = createRedisConnection({ url: server.url, timeoutMs }, { name: uniqueName('stale') }) as Redis
  try {
    const timeouts = socketTimeouts(redis)
    const id = await redis.client('ID')
    await admin.client('PAUSE', 10_000, 'WRITE')
    const start = Date.now()
    const pending = redis.set(uniqueName('k'), 'v') // held by the pause: its deadline is armed
    await admin.client('KILL', 'ID', String(id)) // a FIN, as a restart or a proxy would send
    await admin.client('UNPAUSE')
    assert.equal(await pending, 'OK') // re-sent on the new connection
    // the new connection answers all along; the old deadline must not drop it
    while (Date.now() - start < 2 * timeoutMs) await redis.ping()
    assert.deepEqual(timeouts, [])
  } finally {
    redis.disconnect()
  }
})

test('ADMIT_SESSION cut off by the timeout after Redis ran it: the re-sent call admits the same session', async () => {
  const timeoutMs = 1000
  const redis = createRedisConnection({ url: server.url, timeoutMs }, { name: uniqueName('admit') }) as Redis
  const busy = new Redis(server.url)
  try {
    const timeouts = socketTimeouts(redis)
    await Promise.all([redis.ping(), busy.ping()])
    const admission = createSessionAdmission(redis, { presenceTtlMs: 60_000, stateTtlSeconds: 60 })
    const user = uniqueName('u')
    // Redis busy beyond the timeout (a big script, a fork) right before it runs the admission: it
    // runs it all the same, the reply goes to a connection ioredis dropped, which re-sends the call.
    // The pause lines both up, in that order, whatever the scheduling.
    await admin.client('PAUSE', 10_000, 'WRITE')
    const slow = busy.eval(
      `local function us() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
       local s = us() repeat until us() - s > ${1.5 * timeoutMs * 1000} redis.call('SET', KEYS[1], 1) return 1`,
      1,
      uniqueName('busy'),
    )
    const postponed = async (n: number) =>
      ((await admin.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => /flags=\S*b/.test(l))
        .length === n
    await waitFor(() => postponed(1), { message: 'the busy script held by the pause' })
    const admitted = admission.admit(user, 'session-1', 1, {})
    await waitFor(() => postponed(2), { message: 'the admission held behind it' })
    await admin.client('UNPAUSE')
    assert.equal(await slow, 1)
    assert.equal((await admitted).admitted, true)
    assert.ok(timeouts.length > 0, 'the timeout fired: the reply was lost and the call re-sent')
    assert.equal((await admission.admit(user, 'session-2', 1, {})).admitted, false, 'the limit still holds')
  } finally {
    busy.disconnect()
    redis.disconnect()
  }
})
