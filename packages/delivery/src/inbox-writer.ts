import type { Notification } from '@tidings/contracts'
import { ReplyError } from 'ioredis'
import { nextEpochCandidate } from './inbox.ts'
import {
  topicChannel,
  topicDedupeKey,
  userChannel,
  userDedupeKey,
  userInboxKey,
  userStateKey,
} from './keys.ts'
import { LuaScript } from './lua-script.ts'
import { type DeliveryMeta, encodeMeta } from './meta.ts'
import { type RetentionOptions, validateRetention } from './options.ts'
import type { RedisClient } from './redis-client.ts'
import { DELIVER_TO_USER, DELIVER_TO_USERS, PUBLISH_TO_TOPIC } from './scripts.ts'

export type DeliverResult =
  /** `inboxLength`: the user's inbox after the write (a metric: how close inboxes run to the cap). */
  | { status: 'delivered'; seq: number; epoch: string; inboxLength: number }
  /** Already delivered within the dedupe window: where it went (unknown for marks of older versions). */
  | { status: 'duplicate'; first?: { seq: number; epoch: string } }

/** One notification for one user, as a part of `deliverToUsers`. */
export interface UserDelivery {
  userId: string
  dedupeId: string
  notification: Notification
  meta?: DeliveryMeta | undefined
}

export type DeliverOutcome =
  | DeliverResult
  /** Its write failed: a Redis reply about it, the call's own failure, or it could not be encoded. */
  | { status: 'failed'; error: unknown }
  /** Not tried: an earlier item of the same user in the same call failed (it must not take that seq). */
  | { status: 'skipped' }

/** The dispatcher's side of delivery: a notification into a user's inbox, or onto a topic. */
export interface InboxWriter {
  /**
   * Many notifications, in order, one outcome per item (never rejects). A user's items are written in
   * the order given, and after one of them fails the user's later items are skipped. Standalone Redis:
   * one script call per 100 items, one after the other; Redis Cluster: one call per user (a script's keys must
   * share a slot), concurrent calls auto-pipelined per node.
   */
  deliverToUsers(items: readonly UserDelivery[]): Promise<DeliverOutcome[]>
  /** `meta` (Kafka timestamp, trace context) is kept with the notification for the gateway only. */
  deliverToUser(
    userId: string,
    dedupeId: string,
    notification: Notification,
    meta?: DeliveryMeta,
  ): Promise<DeliverResult>
  publishToTopic(
    topic: string,
    dedupeId: string,
    notification: Notification,
    meta?: DeliveryMeta,
  ): Promise<'published' | 'duplicate'>
}

/** KEYS: state, inbox, dedupe. ARGV: epoch candidate, frame tail, cap, ttl, dedupe window, state ttl, channel, meta, refresh after. */
const deliverScript = new LuaScript<[number, string, number] | [0, string]>(DELIVER_TO_USER, 3)
/** KEYS: dedupe. ARGV: dedupe window, channel, message. */
const publishScript = new LuaScript<number>(PUBLISH_TO_TOPIC, 1)
/** Its key count varies per call (three per item); a Cluster routes it by its first key. */
const deliverManyScript = new LuaScript<ManyReply>(DELIVER_TO_USERS)

type ManyReply = Array<[number, string, number] | [number, string?]>

// Items per script call on a standalone Redis. A call runs 5–9 commands per item while Redis serves
// no one else: 100 items is well under a millisecond, and already makes the per-call cost small.
const MAX_PER_CALL = 100

/**
 * Seconds after which a delivery refreshes its user's TTLs (scripts.ts DELIVER): a minute, or 1 % of
 * the shorter TTL when that is less, so a key never expires more than 1 % early. 0 = every time.
 */
export function ttlRefreshAfter(r: RetentionOptions): number {
  return Math.min(60, Math.floor(Math.min(r.inboxTtlSeconds, r.stateTtlSeconds) / 100))
}

export function createInboxWriter(redis: RedisClient, retention: RetentionOptions): InboxWriter {
  const r = validateRetention({ ...retention })
  const refreshAfter = ttlRefreshAfter(r)
  const constants = [r.inboxCap, r.inboxTtlSeconds, r.dedupeWindowSeconds, r.stateTtlSeconds, refreshAfter]

  /**
   * One script call for items that may share it (standalone: any; cluster: one user's). `failed`:
   * users with an item that failed (or was skipped) in this deliverToUsers so far; their later items
   * are skipped, and the call adds its own.
   */
  async function deliverCall(
    items: readonly UserDelivery[],
    out: DeliverOutcome[],
    at: number[],
    failed: Set<string>,
  ) {
    const keys: string[] = []
    const args: Array<string | number> = [nextEpochCandidate(), ...constants]
    const sent: number[] = []
    const positions: number[] = [] // of the sent items in `items`
    items.forEach((item, i) => {
      if (failed.has(item.userId)) {
        out[at[i]!] = { status: 'skipped' }
        return
      }
      let tail: string
      try {
        tail = notificationFrameTail(item.notification)
      } catch (error) {
        // the user's later items must not overtake this one
        failed.add(item.userId)
        out[at[i]!] = { status: 'failed', error }
        return
      }
      keys.push(
        userStateKey(item.userId),
        userInboxKey(item.userId),
        userDedupeKey(item.userId, item.dedupeId),
      )
      args.push(userChannel(item.userId), tail, encodeMeta(item.meta))
      sent.push(at[i]!)
      positions.push(i)
    })
    if (sent.length === 0) return
    try {
      const replies = await deliverManyScript.runWith(redis, keys.length, [...keys, ...args])
      replies.forEach((reply, j) => {
        const outcome = outcomeOf(reply)
        out[sent[j]!] = outcome
        if (outcome.status === 'failed' || outcome.status === 'skipped')
          failed.add(items[positions[j]!]!.userId)
      })
    } catch (error) {
      for (const index of sent) out[index] = { status: 'failed', error }
      for (const i of positions) failed.add(items[i]!.userId)
    }
  }

  return {
    async deliverToUsers(items) {
      const out: DeliverOutcome[] = new Array(items.length)
      const calls: Promise<void>[] = []
      const failed = new Set<string>()
      if (redis.isCluster) {
        const byUser = new Map<string, number[]>()
        items.forEach((item, i) => {
          const list = byUser.get(item.userId)
          if (list) list.push(i)
          else byUser.set(item.userId, [i])
        })
        for (const at of byUser.values()) {
          calls.push(
            deliverCall(
              at.map((i) => items[i]!),
              out,
              at,
              failed,
            ),
          )
        }
      } else {
        // one call after the other: a user's failure in one must skip their items in the next
        for (let from = 0; from < items.length; from += MAX_PER_CALL) {
          const part = items.slice(from, from + MAX_PER_CALL)
          await deliverCall(
            part,
            out,
            part.map((_, j) => from + j),
            failed,
          )
        }
      }
      await Promise.all(calls)
      return out
    },

    async deliverToUser(userId, dedupeId, notification, meta) {
      // One serialisation per notification; the script prepends type and seq.
      const tail = notificationFrameTail(notification)
      const res = await deliverScript.run(
        redis,
        userStateKey(userId),
        userInboxKey(userId),
        userDedupeKey(userId, dedupeId),
        nextEpochCandidate(),
        tail,
        r.inboxCap,
        r.inboxTtlSeconds,
        r.dedupeWindowSeconds,
        r.stateTtlSeconds,
        userChannel(userId),
        encodeMeta(meta),
        refreshAfter,
      )
      return resultOf(res)
    },

    async publishToTopic(topic, dedupeId, notification, meta) {
      const frame = broadcastFrame(topic, notification)
      const res = await publishScript.run(
        redis,
        topicDedupeKey(topic, dedupeId),
        r.dedupeWindowSeconds,
        topicChannel(topic),
        encodeMeta(meta) + frame,
      )
      return res === 1 ? 'published' : 'duplicate'
    },
  }
}

/**
 * deliverToUsers by single writes, with its rules (a user's items in order, their later ones skipped
 * after a failure): for writers without a many-item call, such as the in-memory inbox.
 */
export async function deliverEachInOrder(
  items: readonly UserDelivery[],
  deliverToUser: InboxWriter['deliverToUser'],
): Promise<DeliverOutcome[]> {
  const failed = new Set<string>()
  const out: DeliverOutcome[] = []
  for (const { userId, dedupeId, notification, meta } of items) {
    if (failed.has(userId)) {
      out.push({ status: 'skipped' })
      continue
    }
    try {
      out.push(await deliverToUser(userId, dedupeId, notification, meta))
    } catch (error) {
      failed.add(userId)
      out.push({ status: 'failed', error })
    }
  }
  return out
}

function resultOf(res: [number, string, number] | [0, string]): DeliverResult {
  if (res[0] === 0) {
    const [seq, epoch] = String(res[1]).split(' ')
    return seq && epoch
      ? { status: 'duplicate', first: { seq: Number(seq), epoch } }
      : { status: 'duplicate' }
  }
  return { status: 'delivered', seq: Number(res[0]), epoch: String(res[1]), inboxLength: Number(res[2]) }
}

function outcomeOf(reply: [number, string, number] | [number, string?]): DeliverOutcome {
  // an item's own error reply is a ReplyError like a failed single call: classified the same way
  if (reply[0] === -1) return { status: 'failed', error: new ReplyError(String(reply[1])) }
  if (reply[0] === -2) return { status: 'skipped' }
  return resultOf(reply as [number, string, number])
}

/**
 * A notification frame without its opening brace: what follows NOTIFICATION_FRAME_PREFIX, the seq
 * and a comma. Field order is fixed here, so every frame of a kind looks the same.
 */
export function notificationFrameTail(n: Notification): string {
  const wire = { id: n.id, kind: n.kind, createdAt: n.createdAt, title: n.title, body: n.body, data: n.data }
  return JSON.stringify(wire).slice(1)
}

/** The protocol's broadcast frame (it has no `kind`). */
export function broadcastFrame(topic: string, n: Notification): string {
  const { id, createdAt, title, body, data } = n
  return JSON.stringify({ type: 'broadcast', topic, id, createdAt, title, body, data })
}
