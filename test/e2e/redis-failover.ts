// What a Redis failover with asynchronous replication can do to one user: the promoted replica had
// not received the user's latest writes. The epoch survives, and the seqs of the lost writes are
// handed out again to the next notifications.
import { userInboxKey, userStateKey } from '@tidings/delivery'
import { Redis } from 'ioredis'

export async function loseLatestWrites(redisUrl: string, userId: string, count: number): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true })
  try {
    const [seq, acked] = (await redis.hmget(userStateKey(userId), 'seq', 'acked')).map(Number)
    const kept = Math.max(0, seq! - count)
    // an ack of a lost seq came after it, so it was lost too
    await redis.hset(userStateKey(userId), 'seq', kept, 'acked', Math.min(acked!, kept))
    await redis.ltrim(userInboxKey(userId), 0, -count - 1)
  } finally {
    redis.disconnect()
  }
}

/** The user's latest seq as Redis holds it (0 when none). */
export async function latestSeq(redisUrl: string, userId: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true })
  try {
    return Number((await redis.hget(userStateKey(userId), 'seq')) ?? 0)
  } finally {
    redis.disconnect()
  }
}
