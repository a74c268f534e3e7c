// Redis memory per notification and per user: what docs/operations.md sizes Redis by.
//
// For each number of users, a fresh private redis-server with nothing else in it, and the dispatcher's
// store (createDeliveryStore: its Lua script). N notifications shaped like a loan decision, with dedupe
// ids `<source topic>:<uuid>` as services/dispatcher/src/map.ts makes them, go to the users round-robin in
// calls of 100 (deliverToUsers, as the dispatcher writes). `used_memory` is read before, after the writes
// and after every user acked everything: what stays then is the users' states and the dedupe keys, which
// live for DEDUPE_WINDOW_SECONDS whether the notification was read or not. MEMORY USAGE of one user's
// state and inbox gives the per-key figures. Last, every notification is marked handed to push (the push
// queue's `done`, as the dispatcher's push sender does with PUSH_TOPIC set): a key each, for
// INBOX_TTL_SECONDS.
import { randomUUID } from 'node:crypto'
import type { Notification } from '@tidings/contracts'
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
import { round } from './lib/stats.ts'

export interface RedisMemoryOptions {
  notifications: number
  /** One run per entry: many users with a few notifications each, or few users with many. */
  users: readonly number[]
}

export interface RedisMemoryRun {
  users: number
  notifications: number
  /** One stored notification (its inbox entry), bytes. */
  entryBytes: number
  /** used_memory per notification after the writes: inbox entry, dedupe key, a share of a state. */
  deliveredBytes: number
  /** used_memory per notification once all are acked, the states taken out: its dedupe key. */
  dedupeKeyBytes: number
  /** MEMORY USAGE of one user's state. */
  stateBytes: number
  /** MEMORY USAGE of one user's inbox, and the entries in it (capped at INBOX_CAP). */
  inboxBytes: number
  inboxEntries: number
  /** used_memory per notification marked handed to push (PUSH_TOPIC set). */
  pushDoneBytes: number
}

const SOURCE_TOPIC = 'loan.decisions'
const PER_CALL = 100

const notification = (i: number): Notification => ({
  id: `n${i}`.padEnd(22, 'x'),
  kind: 'loan.decision',
  createdAt: new Date(Date.UTC(2026, 11, 7, 10, 0, 0, i % 1000)).toISOString(),
  title: 'Your loan application was approved',
  body: 'Application LA-2026-0001042 for 12,500.00 EUR was approved. Open the app to review the offer and sign the contract before it expires.',
  data: { applicationId: 'LA-2026-0001042', decision: 'approved' },
})

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? Number.NaN)
}

async function measure(users: number, notifications: number): Promise<RedisMemoryRun> {
  const server = await startRedis()
  const redis = createRedisConnection({ url: server.url }, { name: 'bench-redis-memory' }) as Redis
  try {
    const store = createDeliveryStore(redis, DEFAULT_RETENTION)
    const userId = (i: number) => `b-${i % users}`
    // loads the script (Redis keeps it in used_memory) before the first reading
    const warm = await store.deliverToUsers([
      { userId: 'warm-up', dedupeId: 'warm-up', notification: notification(0) },
    ])
    if (warm[0]?.status !== 'delivered') throw new Error(`the warm-up write was ${warm[0]?.status}`)
    const before = await usedMemory(redis)
    const epochs = new Map<string, string>()
    const counts = new Map<string, number>()
    for (let from = 0; from < notifications; from += PER_CALL) {
      const items: UserDelivery[] = []
      for (let i = from; i < Math.min(from + PER_CALL, notifications); i++) {
        items.push({
          userId: userId(i),
          dedupeId: `${SOURCE_TOPIC}:${randomUUID()}`,
          notification: notification(i),
        })
      }
      const out = await store.deliverToUsers(items)
      out.forEach((o, k) => {
        if (o.status !== 'delivered') throw new Error(`a write was ${o.status}`)
        const user = items[k]!.userId
        epochs.set(user, o.epoch)
        counts.set(user, (counts.get(user) ?? 0) + 1)
      })
    }
    const delivered = await usedMemory(redis)
    const first = userId(0)
    const stateBytes = Number(await redis.memory('USAGE', userStateKey(first)))
    const inboxBytes = Number(await redis.memory('USAGE', userInboxKey(first)))
    const inboxEntries = await redis.llen(userInboxKey(first))
    const entryBytes = Buffer.byteLength((await redis.lindex(userInboxKey(first), 0)) ?? '')
    for (const [user, epoch] of epochs) await store.ack(user, epoch, counts.get(user)!)
    if ((await redis.exists(userInboxKey(first))) !== 0) throw new Error('an acked inbox is still there')
    const acked = await usedMemory(redis)
    const push = createPushQueue(redis, 'notifications.push')
    for (let from = 0; from < notifications; from += PER_CALL) {
      const calls: Promise<void>[] = []
      for (let i = from; i < Math.min(from + PER_CALL, notifications); i++) {
        const entry = {
          notificationId: notification(i).id,
          userId: userId(i),
          epoch: 'e',
          seq: i,
          reason: 'offline' as const,
        }
        calls.push(push.done(entry, DEFAULT_RETENTION.inboxTtlSeconds))
      }
      await Promise.all(calls)
    }
    const pushed = await usedMemory(redis)
    return {
      users,
      notifications,
      entryBytes,
      deliveredBytes: Math.round((delivered - before) / notifications),
      dedupeKeyBytes: Math.round((acked - before - users * stateBytes) / notifications),
      stateBytes,
      inboxBytes,
      inboxEntries,
      pushDoneBytes: Math.round((pushed - acked) / notifications),
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
      `  ${users} users: ${run.deliveredBytes} B/notification, ${run.dedupeKeyBytes} B/dedupe key, inbox of ${run.inboxEntries} ${round(run.inboxBytes / 1024)} KiB\n`,
    )
    runs.push(run)
  }
  return runs
}
