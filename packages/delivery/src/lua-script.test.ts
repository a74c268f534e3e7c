// LuaScript against a real Redis, seen from Redis itself (MONITOR): EVALSHA, and EVAL only when the
// node answers NOSCRIPT. Each test's script carries a unique comment, so its SHA is new to Redis (as
// after a restart or a failover) without flushing the scripts the other tests use.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import { monitorRedis, type RedisMonitor } from '@tidings/test/support/redis-monitor'
import type { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { LuaScript } from './lua-script.ts'

describe('LuaScript (real Redis)', () => {
  let redis: Redis
  let monitor: RedisMonitor
  const seen: string[][] = []
  before(async () => {
    redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'lua-script-test' }) as Redis
    monitor = await monitorRedis(infraFromEnv().redisUrl)
    monitor.on('monitor', (_time: string, args: string[]) => {
      const name = args[0]?.toLowerCase()
      if (name === 'eval' || name === 'evalsha') seen.push([name, ...args.slice(1)])
    })
  })
  after(() => {
    for (const c of [monitor, redis]) c.disconnect()
  })
  /** The EVAL/EVALSHA commands Redis ran for `script`, by name (MONITOR escapes the text: its first line). */
  const commandsOf = (script: LuaScript<unknown>) =>
    seen
      .filter((c) => c[1] === script.sha || (c[0] === 'eval' && c[1]?.startsWith(script.lua.split('\n')[0]!)))
      .map((c) => c[0])
  /** A MONITOR line arrives after its reply: a PING sent after it is seen after it. */
  const settle = async () => {
    const marker = uniqueName('settle')
    const seenMarker = new Promise<void>((resolve) => {
      const on = (_time: string, args: string[]) => {
        if (args[1] === marker) {
          monitor.off('monitor', on)
          resolve()
        }
      }
      monitor.on('monitor', on)
    })
    await redis.ping(marker)
    await seenMarker
  }
  const echo = () => new LuaScript<[string, string]>(`-- ${uniqueName('echo')}\nreturn {KEYS[1], ARGV[1]}`, 1)

  test('a script Redis does not have runs once with its text, then by its SHA', async () => {
    const script = echo()
    assert.deepEqual(await script.run(redis, 'k1', 'a'), ['k1', 'a'])
    assert.deepEqual(await script.run(redis, 'k2', 'b'), ['k2', 'b'])
    await settle()
    assert.deepEqual(commandsOf(script), ['evalsha', 'eval', 'evalsha'])
  })

  test('calls of one turn before the script is loaded: each falls back to EVAL with its own values', async () => {
    const script = echo()
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => script.run(redis, `k${i}`, `v${i}`)),
    )
    assert.deepEqual(
      replies,
      Array.from({ length: 20 }, (_, i) => [`k${i}`, `v${i}`]),
    )
    await settle()
    const names = commandsOf(script)
    assert.equal(names.filter((n) => n === 'evalsha').length, 20)
    assert.equal(names.filter((n) => n === 'eval').length, 20)
  })

  test('a connection loads the scripts defined so far once it is ready: their first call is one EVALSHA', async () => {
    const script = echo()
    const fresh = createRedisConnection(
      { url: infraFromEnv().redisUrl },
      { name: 'lua-script-test-2' },
    ) as Redis
    try {
      await once(fresh, 'ready')
      await fresh.ping() // answered after the SCRIPT LOADs the ready handler sent
      assert.deepEqual(await script.run(fresh, 'k', 'v'), ['k', 'v'])
      await settle()
      assert.deepEqual(commandsOf(script), ['evalsha'])
    } finally {
      fresh.disconnect()
    }
  })

  test("a script's own error is the caller's, not retried as EVAL", async () => {
    const script = new LuaScript<never>(
      `-- ${uniqueName('fails')}\nreturn redis.error_reply('ERR tidings test')`,
      0,
    )
    await script.run(redis).catch(() => {}) // cached by its EVAL fallback
    await settle()
    seen.length = 0
    await assert.rejects(script.run(redis), /ERR tidings test/)
    await settle()
    assert.deepEqual(commandsOf(script), ['evalsha'])
  })

  test('the key count per call (runWith); run refuses a script declared without one', async () => {
    const script = new LuaScript<string[]>(`-- ${uniqueName('keys')}\nreturn KEYS`)
    assert.deepEqual(await script.runWith(redis, 2, ['a', 'b', 'c']), ['a', 'b'])
    assert.throws(() => script.run(redis, 'a'), TypeError)
  })
})
