// Redis memory per notification and per user: what docs/operations.md sizes Redis by.
//
// For each number of users, a fresh private redis-server with nothing else in it, and the dispatcher's
// own path: loan decisions (English, with an amount) decoded and mapped by services/dispatcher
// (decodeEvent, toDelivery: the real frame, the real dedupe id `<source topic>:<eventId>`), written with
// the Kafka timestamp every entry carries (its meta line; a traced one carries ~55 B more) through the
// dispatcher's store, round-robin over the users in calls of 100 (deliverToUsers, as the dispatcher does).
// `used_memory` (less the client buffers, which the calls themselves fill) is read before, after the
// writes, after every user acked everything (inboxes gone: what stays is the states and the dedupe keys,
// which live for DEDUPE_WINDOW_SECONDS whether a notification was read or not), after deleting the
// states, and after marking every notification handed to push (the push queue's `done`, as the
// dispatcher's push sender does for every user notification of a PUSH_KINDS kind: a key each, for
// INBOX_TTL_SECONDS). Key sizes follow the ids: user ids here are `b-<n>`; a 36-character id adds ~32 B
// to each dedupe key.
import { randomUUID } from 'node:crypto'
import {
  createDeliveryStore,
  createPushQueue,
  createRedisConnection,
  DEFAULT_RETENTION,
  type UserDelivery,
  userInboxKey,
  userStateKey,
} from '@tidings/delivery'
import { startRedis } from '@tidings/test/infra'
import type { Redis } from 'ioredis'
import { decodeEvent } from '../../services/dispatcher/src/decode.ts'
import { toDelivery } from '../../services/dispatcher/src/map.ts'
import { loanEvent } from '../../services/dispatcher/src/testing.ts'
import { round } from './lib/stats.ts'

export interface RedisMemoryOptions {
  notifications: number
  /** One run per entry: many users with a few notifications each, or few users with many. */
  users: readonly number[]
}

export interface RedisMemoryRun {
  users: number
  notifications: number
  /** One stored inbox entry (meta line + frame), bytes. */
  entryBytes: number
  /** Per notification, the inboxes: (after the writes − after the acks) / notifications. */
  inboxBytesPerNotification: number
  /** One user's inbox (MEMORY USAGE), and its entries. */
  inboxBytes: number
  inboxEntries: number
  /** Per notification once all are acked and the states deleted: its dedupe key. */
  dedupeKeyBytes: number
  /**
   * Per user: what deleting the states freed; only with 1,000 users or more (null below): a few states
   * weigh less than what Redis's client buffers move between two readings (tens of KB).
   */
  stateBytes: number | null
  /** Per notification marked handed to push. */
  pushDoneBytes: number
}

const SOURCE_TOPIC = 'loan.decisions'
const PER_CALL = 100

/** A user delivery exactly as the dispatcher builds it from a loan decision event. */
function delivery(borrowerId: string, i: number): UserDelivery {
  const event = loanEvent({ eventId: randomUUID(), borrowerId, loanId: `L-${100_000 + i}` })
  const decoded = decodeEvent({ value: Buffer.from(JSON.stringify(event)) }, 'loan.decision', 1 << 20)
  if (!decoded.ok) throw new Error(`the bench's event does not decode: ${decoded.message}`)
  const mapped = toDelivery(decoded.value, SOURCE_TOPIC)
  if (!mapped.ok || mapped.value.target !== 'user') throw new Error("the bench's event does not map")
  const { userId, dedupeId, notification } = mapped.value
  return { userId, dedupeId, notification, meta: { producedAt: 1_765_000_000_000 + i } }
}

/**
 * used_memory once Redis is done growing its key tables. It grows a table by allocating one twice the
 * size and moving the keys over a bucket per lookup (and a millisecond per 100 ms of its cron): a
 * reading taken mid-move holds both tables, tens of KB. A lookup of a key with a TTL steps both the
 * key table and the expiry table, so as many lookups as the larger table has buckets finish any move.
 */
async function settledMemory(redis: Redis, keyWithTtl: string): Promise<number> {
  const buckets = 2 ** Math.ceil(Math.log2(2 * (await redis.dbsize()) + 16))
  for (let done = 0; done < buckets; done += 1000) {
    const lookups = redis.pipeline()
    for (let i = done; i < Math.min(done + 1000, buckets); i++) lookups.exists(keyWithTtl)
    await lookups.exec()
  }
  return usedMemory(redis)
}

/** used_memory without the client buffers (query buffers of the 100-item calls move it by tens of KB). */
async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory')
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN)
  return field('used_memory') - field('mem_clients_normal')
}

async function measure(users: number, notifications: number): Promise<RedisMemoryRun> {
  const server = await startRedis()
  const redis = createRedisConnection({ url: server.url }, { name: 'bench-redis-memory' }) as Redis
  try {
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    const userId = (i: number) => `b-${i % users}`
    // loads the script (Redis keeps it in used_memory) before the first reading
    const [warm] = await store.deliverToUsers([delivery('warm-up', 0)])
    if (warm?.status !== 'delivered') throw new Error(`the warm-up write was ${warm?.status}`)
    const settled = () => settledMemory(redis, userStateKey('warm-up'))
    const before = await settled()
    const epochs = new Map<string, string>()
    const counts = new Map<string, number>()
    const ids: string[] = []
    for (let from = 0; from < notifications; from += PER_CALL) {
      const items: UserDelivery[] = []
      for (let i = from; i < Math.min(from + PER_CALL, notifications); i++) items.push(delivery(userId(i), i))
      const out = await store.deliverToUsers(items)
      out.forEach((o, k) => {
        if (o.status !== 'delivered') throw new Error(`a write was ${o.status}`)
        const { userId: user, notification } = items[k]!
        epochs.set(user, o.epoch)
        counts.set(user, (counts.get(user) ?? 0) + 1)
        ids.push(notification.id)
      })
    }
    const delivered = await settled()
    const first = userId(0)
    const inboxBytes = Number(await redis.memory('USAGE', userInboxKey(first)))
    const inboxEntries = await redis.llen(userInboxKey(first))
    const entryBytes = Buffer.byteLength((await redis.lindex(userInboxKey(first), 0)) ?? '')
    for (const [user, epoch] of epochs) await store.ack(user, epoch, counts.get(user)!)
    for (const user of epochs.keys()) {
      if ((await redis.exists(userInboxKey(user))) !== 0)
        throw new Error(`${user}'s acked inbox is still there`)
    }
    const acked = await settled()
    for (const user of epochs.keys()) await redis.del(userStateKey(user))
    const stateless = await settled()
    const push = createPushQueue(redis, 'notifications.push')
    for (let from = 0; from < notifications; from += PER_CALL) {
      await Promise.all(
        ids
          .slice(from, from + PER_CALL)
          .map((notificationId, j) =>
            push.done(
              { notificationId, userId: userId(from + j), epoch: 'e', seq: from + j, reason: 'offline' },
              DEFAULT_RETENTION.inboxTtlSeconds,
            ),
          ),
      )
    }
    const pushed = await settled()
    return {
      users,
      notifications,
      entryBytes,
      inboxBytesPerNotification: Math.round((delivered - acked) / notifications),
      inboxBytes,
      inboxEntries,
      dedupeKeyBytes: Math.round((stateless - before) / notifications),
      stateBytes: epochs.size >= 1000 ? Math.round((acked - stateless) / epochs.size) : null,
      pushDoneBytes: Math.round((pushed - stateless) / notifications),
    }
  } finally {
    redis.disconnect()
    await server.stop()
  }
}

export async function runRedisMemory(opts: RedisMemoryOptions): Promise<RedisMemoryRun[]> {
  const runs: RedisMemoryRun[] = []
  for (const users of opts.users) {
    const run = await measure(users, opts.notifications)
    process.stderr.write(
      `  ${users} users: inboxes ${run.inboxBytesPerNotification} B/notification, ${run.dedupeKeyBytes} B/dedupe key, ${run.stateBytes ?? '–'} B/state, inbox of ${run.inboxEntries} ${round(run.inboxBytes / 1024)} KiB\n`,
    )
    runs.push(run)
  }
  return runs
}
