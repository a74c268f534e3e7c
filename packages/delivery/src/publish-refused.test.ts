// A publish Redis refuses, on a private redis-server: while it refuses writes for maxmemory a
// broadcast must not go out (each retry used to publish it again), and a live copy refused by an ACL
// must not turn a stored notification into a failed write (retried it is a duplicate, dead-lettered
// a lie).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Notification } from '@tidings/contracts'
import { type RedisServer, startRedis, waitFor } from '@tidings/test/infra'
import type { Redis } from 'ioredis'
import { createRedisConnection } from './connection.ts'
import { createInboxWriter } from './inbox-writer.ts'
import { topicChannel, topicDedupeKey, userDedupeKey, userInboxKey } from './keys.ts'
import { DEFAULT_RETENTION } from './options.ts'

const n: Notification = {
  id: 'n1',
  kind: 'announcement',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: 't',
  body: 'b',
  data: {},
}

let server: RedisServer
let admin: Redis
before(async () => {
  server = await startRedis()
  admin = createRedisConnection({ url: server.url }, { name: 'publish-refused-admin' }) as Redis
})
after(async () => {
  admin?.disconnect()
  await server?.stop()
})

test('a broadcast refused for maxmemory is not published, leaves no mark, and goes out once after', async () => {
  const writer = createInboxWriter(admin, DEFAULT_RETENTION)
  const subscriber = createRedisConnection({ url: server.url }, { name: 'publish-refused-sub' }) as Redis
  const received: string[] = []
  subscriber.on('smessage', (_channel: string, message: string) => received.push(message))
  await subscriber.ssubscribe(topicChannel('news'))
  try {
    await writer.publishToTopic('warm-up', 'w:1', n) // the script is loaded while writes are accepted
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '1')
    try {
      for (let i = 0; i < 3; i++)
        await assert.rejects(writer.publishToTopic('news', 'ann:1', n), /^ReplyError: OOM/)
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
    assert.equal(await admin.exists(topicDedupeKey('news', 'ann:1')), 0)
    assert.equal(await writer.publishToTopic('news', 'ann:1', n), 'published')
    // a channel's messages arrive in order: had a refused call published, it would be here first
    await waitFor(() => received.length > 0, { message: 'the broadcast arrived' })
    assert.equal(received.length, 1)
  } finally {
    subscriber.disconnect()
  }
})

test('an ACL user without the channels: a delivery is stored and reported so, a broadcast fails without a mark', async () => {
  await admin.call(
    'ACL',
    'SETUSER',
    'no-channels',
    'on',
    '>no-channels-0123',
    '~tdg:*',
    'resetchannels',
    '+@all',
  )
  const narrow = createRedisConnection(
    { url: server.url, username: 'no-channels', password: 'no-channels-0123' },
    { name: 'publish-refused-narrow' },
  ) as Redis
  try {
    const writer = createInboxWriter(narrow, DEFAULT_RETENTION)
    const one = await writer.deliverToUser('u-acl', 'e:1', n)
    assert.equal(one.status, 'delivered')
    const many = await writer.deliverToUsers([
      { userId: 'u-acl', dedupeId: 'e:2', notification: n },
      { userId: 'u-acl-2', dedupeId: 'e:1', notification: n },
    ])
    assert.deepEqual(
      many.map((o) => o.status),
      ['delivered', 'delivered'],
    )
    assert.equal(await admin.llen(userInboxKey('u-acl')), 2)
    assert.equal(await admin.exists(userDedupeKey('u-acl', 'e:2')), 1)
    await assert.rejects(writer.publishToTopic('news-acl', 'ann:1', n), /can't publish to the channel/)
    assert.equal(await admin.exists(topicDedupeKey('news-acl', 'ann:1')), 0)
  } finally {
    narrow.disconnect()
  }
})
