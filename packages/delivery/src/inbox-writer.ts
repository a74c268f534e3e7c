import type { Notification } from '@tidings/contracts'
import { nextEpochCandidate } from './inbox.ts'
import {
  topicChannel,
  topicDedupeKey,
  userChannel,
  userDedupeKey,
  userInboxKey,
  userStateKey,
} from './keys.ts'
import { type DeliveryMeta, encodeMeta } from './meta.ts'
import { type RetentionOptions, validateRetention } from './options.ts'
import type { RedisClient } from './redis-client.ts'
import { DELIVER_TO_USER, PUBLISH_TO_TOPIC } from './scripts.ts'

export type DeliverResult =
  /** `inboxLength`: the user's inbox after the write (a metric: how close inboxes run to the cap). */
  | { status: 'delivered'; seq: number; epoch: string; inboxLength: number }
  /** Already delivered within the dedupe window: where it went (unknown for marks of older versions). */
  | { status: 'duplicate'; first?: { seq: number; epoch: string } }

/** The dispatcher's side of delivery: a notification into a user's inbox, or onto a topic. */
export interface InboxWriter {
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

interface Scripted {
  tdgDeliver(...args: Array<string | number>): Promise<[number, string, number] | [0, string]>
  tdgPublish(...args: Array<string | number>): Promise<number>
}

export function createInboxWriter(redis: RedisClient, retention: RetentionOptions): InboxWriter {
  const r = validateRetention({ ...retention })
  // defineCommand runs EVALSHA and falls back to EVAL once per connection/node; with
  // enableAutoPipelining, concurrent calls share a round trip (per node in a cluster).
  redis.defineCommand('tdgDeliver', { numberOfKeys: 3, lua: DELIVER_TO_USER })
  redis.defineCommand('tdgPublish', { numberOfKeys: 1, lua: PUBLISH_TO_TOPIC })
  const s = redis as unknown as Scripted

  return {
    async deliverToUser(userId, dedupeId, notification, meta) {
      // One serialisation per notification; the script prepends type and seq.
      const tail = notificationFrameTail(notification)
      const res = await s.tdgDeliver(
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
      )
      if (res[0] === 0) {
        const [seq, epoch] = String(res[1]).split(' ')
        return seq && epoch
          ? { status: 'duplicate', first: { seq: Number(seq), epoch } }
          : { status: 'duplicate' }
      }
      return { status: 'delivered', seq: Number(res[0]), epoch: String(res[1]), inboxLength: Number(res[2]) }
    },

    async publishToTopic(topic, dedupeId, notification, meta) {
      const frame = broadcastFrame(topic, notification)
      const res = await s.tdgPublish(
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
