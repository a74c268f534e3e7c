// The push hand-off queue: notifications that may need a mobile push (FCM/APNs) because their user
// had no live session when they were written, or has not acked them within the window. Entries are
// scheduled by the dispatcher after it wrote the notification, claimed by any dispatcher when due
// (a lease, so a dispatcher that dies with a claim in hand does not lose it), checked against the
// user's ack state, handed to Kafka, then marked done — and a done mark makes a redelivered event's
// second schedule a no-op. All times are Redis's clock, so dispatchers with skewed clocks agree.
//
// Sharding: the queue is PUSH_SHARDS sorted sets, a user's entries always in the same one. Each set
// has its own hash tag, so on a Redis Cluster the shards spread over the nodes and each script
// touches one slot.
import type { PushReason } from '@tidings/contracts'
import { pushClaimedKey, pushDoneKey, pushDueKey, userInboxKey, userStateKey } from './keys.ts'
import { LuaScript } from './lua-script.ts'
import type { RedisClient } from './redis-client.ts'

export const PUSH_SHARDS = 16

/** Why a user's push is requested: no live session at write time, or no ack within the window. */
export type UserPushReason = Exclude<PushReason, 'broadcast'>

export interface PushEntry {
  notificationId: string
  userId: string
  epoch: string
  seq: number
  reason: UserPushReason
}

/** At fire time: still unacked (with its frame), acked in time, or no longer in the inbox. */
export type PushCheck = { status: 'pending'; entry: string } | { status: 'acked' } | { status: 'gone' }

export interface PushQueue {
  /** Adds the entry, due in `delayMs`; false when it is already queued or was handled. */
  schedule(entry: PushEntry, delayMs: number): Promise<boolean>
  /**
   * Takes up to `limit` entries of one shard under a lease of `leaseMs`: first expired claims (at most
   * `expiredLimit` of them, default `limit`), then due entries.
   */
  claim(shard: number, leaseMs: number, limit: number, expiredLimit?: number): Promise<PushEntry[]>
  /** The user's ack state for the entry, and its inbox entry when still unacked. */
  check(entry: PushEntry): Promise<PushCheck>
  /** Removes the claim and remembers the entry as handled for `rememberSeconds`. */
  done(entry: PushEntry, rememberSeconds: number): Promise<void>
}

/** FNV-1a of the user id: stable across processes and languages, cheap, evenly spread. */
export function pushShard(userId: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % PUSH_SHARDS
}

const SEP = '\t' // user ids, epochs and notification ids never contain a tab

export function encodePushEntry(e: PushEntry): string {
  return [e.notificationId, e.userId, e.epoch, e.seq, e.reason].join(SEP)
}

export function decodePushEntry(member: string): PushEntry | undefined {
  const [notificationId, userId, epoch, seq, reason] = member.split(SEP)
  if (!notificationId || !userId || !epoch || !seq || (reason !== 'offline' && reason !== 'unacked'))
    return undefined
  return { notificationId, userId, epoch, seq: Number(seq), reason }
}

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/**
 * KEYS: due, done, claimed.  ARGV: member, delayMs, the member with the other reason.
 * 1 = scheduled, 0 = already queued, claimed (being pushed right now) or handled. A redelivered event
 * may find its user's presence changed since: the same notification under the other reason counts.
 */
const SCHEDULE = `${NOW_MS}
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for _, m in ipairs({ARGV[1], ARGV[3]}) do
  if redis.call('ZSCORE', KEYS[1], m) or redis.call('ZSCORE', KEYS[3], m) then return 0 end
end
return redis.call('ZADD', KEYS[1], 'NX', now + tonumber(ARGV[2]), ARGV[1])
`

/**
 * KEYS: due, claimed.  ARGV: leaseMs, limit, expiredLimit.  Re-leases up to expiredLimit expired
 * claims (their dispatcher died, lost Redis or could not reach Kafka), then moves due entries to the
 * claimed set; returns the members taken. The bound keeps claims that fail again and again from
 * taking every round and starving the entries that came due since.
 */
const CLAIM = `${NOW_MS}
local limit = tonumber(ARGV[2])
local lease = now + tonumber(ARGV[1])
local taken = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, math.min(limit, tonumber(ARGV[3])))
for _, m in ipairs(taken) do redis.call('ZADD', KEYS[2], lease, m) end
if #taken < limit then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit - #taken)
  for _, m in ipairs(due) do
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZADD', KEYS[2], lease, m)
    taken[#taken + 1] = m
  end
end
return taken
`

/**
 * KEYS: state, inbox (the user's).  ARGV: epoch, seq.  {'acked'} when that epoch is current and acked
 * past seq; {'gone'} when the epoch changed or seq left the inbox (expired, capped); else
 * {'pending', inbox entry}.
 */
const CHECK = `
local st = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'acked')
if not st[1] or st[1] ~= ARGV[1] then return {'gone'} end
local want, last, acked = tonumber(ARGV[2]), tonumber(st[2]), tonumber(st[3])
if acked >= want then return {'acked'} end
local len = redis.call('LLEN', KEYS[2])
local head = last - len + 1
if want < head or want > last then return {'gone'} end
return {'pending', redis.call('LINDEX', KEYS[2], want - head)}
`

/** KEYS: claimed, done.  ARGV: member, rememberSeconds. */
const DONE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
return 1
`

const scheduleScript = new LuaScript<number>(SCHEDULE, 3)
const claimScript = new LuaScript<string[]>(CLAIM, 2)
const checkScript = new LuaScript<[string, string?]>(CHECK, 2)
const doneScript = new LuaScript<number>(DONE, 2)

/** `queue` names the queue (the push topic): its keys are its own. Topic names never contain braces. */
export function createPushQueue(redis: RedisClient, queue: string): PushQueue {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(queue)) throw new RangeError(`not a push queue name: ${queue}`)
  return {
    async schedule(entry, delayMs) {
      const shard = pushShard(entry.userId)
      const added = await scheduleScript.run(
        redis,
        pushDueKey(queue, shard),
        pushDoneKey(queue, shard, entry.notificationId),
        pushClaimedKey(queue, shard),
        encodePushEntry(entry),
        Math.max(0, Math.round(delayMs)),
        encodePushEntry({ ...entry, reason: entry.reason === 'offline' ? 'unacked' : 'offline' }),
      )
      return added === 1
    },
    async claim(shard, leaseMs, limit, expiredLimit = limit) {
      const members = await claimScript.run(
        redis,
        pushDueKey(queue, shard),
        pushClaimedKey(queue, shard),
        leaseMs,
        limit,
        Math.max(0, expiredLimit),
      )
      const entries: PushEntry[] = []
      for (const m of members) {
        const e = decodePushEntry(m)
        // an entry this version cannot read is dropped rather than claimed forever
        if (e) entries.push(e)
        else await redis.zrem(pushClaimedKey(queue, shard), m)
      }
      return entries
    },
    async check(entry) {
      const [status, frame] = await checkScript.run(
        redis,
        userStateKey(entry.userId),
        userInboxKey(entry.userId),
        entry.epoch,
        entry.seq,
      )
      if (status === 'pending' && typeof frame === 'string') return { status, entry: frame }
      return status === 'acked' ? { status: 'acked' } : { status: 'gone' }
    },
    async done(entry, rememberSeconds) {
      const shard = pushShard(entry.userId)
      await doneScript.run(
        redis,
        pushClaimedKey(queue, shard),
        pushDoneKey(queue, shard, entry.notificationId),
        encodePushEntry(entry),
        Math.max(1, Math.round(rememberSeconds)),
      )
    },
  }
}
