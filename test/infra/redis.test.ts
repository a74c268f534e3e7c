// The shared Redis from the global setup, and a private one that is restarted.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { infraFromEnv, startRedis, uniqueName, waitFor } from './index.ts'

const { redisUrl } = infraFromEnv()

test('PUBLISH reaches a SUBSCRIBE-d connection', async (t) => {
  const subscriber = new Redis(redisUrl)
  const publisher = new Redis(redisUrl)
  t.after(() => {
    subscriber.disconnect()
    publisher.disconnect()
  })
  const channel = uniqueName('infra-channel')
  const messages: string[] = []
  subscriber.on('message', (ch: string, message: string) => {
    if (ch === channel) messages.push(message)
  })
  await subscriber.subscribe(channel)
  assert.equal(await publisher.publish(channel, 'hello'), 1) // one subscriber received it
  await waitFor(() => messages.length > 0, { message: 'message delivered' })
  assert.deepEqual(messages, ['hello'])
})

test('EVAL runs a Lua script with keys and arguments', async (t) => {
  const redis = new Redis(redisUrl)
  t.after(() => redis.disconnect())
  const key = uniqueName('infra-counter')
  const script = "return {redis.call('INCRBY', KEYS[1], ARGV[1]), ARGV[2]}"
  assert.deepEqual(await redis.eval(script, 1, key, '5', 'tag'), [5, 'tag'])
  assert.deepEqual(await redis.eval(script, 1, key, '2', 'again'), [7, 'again'])
  await redis.del(key)
})

test('restart() brings a private redis back on the same port, empty', async (t) => {
  const server = await startRedis()
  const client = new Redis(server.url, { lazyConnect: true })
  client.on('error', () => {}) // connection resets during the restart are expected
  const fresh = new Redis(server.url, { lazyConnect: true })
  t.after(async () => {
    client.disconnect()
    fresh.disconnect()
    await server.stop()
  })
  await client.connect()
  await client.set('survives', 'no')
  const { port, url } = server

  await server.restart()

  assert.equal(server.port, port)
  assert.equal(server.url, url)
  // The client created before the restart reconnects to the same port.
  assert.equal(await waitFor(() => client.ping(), { timeoutMs: 10_000 }), 'PONG')
  assert.equal(await client.get('survives'), null)
  await fresh.connect()
  assert.equal(await fresh.ping(), 'PONG')
})

test('with appendOnly, restart() keeps the data (AOF, as production runs it)', async (t) => {
  const server = await startRedis({ appendOnly: true })
  const client = new Redis(server.url, { lazyConnect: true })
  client.on('error', () => {})
  t.after(async () => {
    client.disconnect()
    await server.stop()
  })
  await client.connect()
  await client.set('survives', 'yes')
  await server.restart()
  assert.equal(await waitFor(() => client.get('survives'), { timeoutMs: 10_000 }), 'yes')
})
