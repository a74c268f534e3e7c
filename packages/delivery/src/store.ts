import { randomBytes } from 'node:crypto'
import type { Notification } from '@tidings/contracts'
import type { Cluster, Redis } from 'ioredis'
import {
  topicChannel,
  topicDedupeKey,
  userChannel,
  userDedupeKey,
  userInboxKey,
  userStateKey,
} from './keys.ts'
import { type DeliveryMeta, encodeMeta, splitEntry } from './meta.ts'
import { type RetentionOptions, validateRetention } from './options.ts'
import { ACK, DELIVER_TO_USER, PUBLISH_TO_TOPIC, READ_INBOX } from './scripts.ts'

export type RedisClient = Redis | Cluster

export type DeliverResult =
  /** `inboxLength`: the user's inbox after the write (a metric: how close inboxes run to the cap). */
  | { status: 'delivered'; seq: number; epoch: string; inboxLength: number }
  /** Already delivered within the dedupe window: where it went (unknown for marks of older versions). */
  | { status: 'duplicate'; first?: { seq: number; epoch: string } }

export interface MissedRange {
  afterSeq: number
  nextSeq: number
  epoch: string
}

export interface InboxRead {
  epoch: string
  /** The last seq assigned in this epoch (0 when none yet). */
  seq: number
  /** The highest seq any session of the user acknowledged. */
  acked: number
  /** Notification frames (JSON text) in seq order; the first has seq `firstSeq`. */
  frames: string[]
  /** What was stored with each frame (same index): never sent to apps. */
  metas: Array<DeliveryMeta | undefined>
  firstSeq: number
  /** Set when what the caller has not seen can no longer all be sent. */
  missed?: MissedRange
  /** The caller's lastSeq was beyond the latest seq of its epoch: writes were lost, seqs may repeat. */
  regressed?: boolean
}

export interface ResumePoint {
  /** The last seq the client has; 0 or absent for "from the oldest". */
  lastSeq?: number
  /** The epoch `lastSeq` belongs to; absent = the current one (a client that only knows a seq). */
  epoch?: string
}

/** The whole Redis side of delivery: what the dispatcher writes and the gateway reads/acks. */
export interface DeliveryStore {
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
  readInbox(userId: string, from: ResumePoint): Promise<InboxRead>
  /**
   * Cumulative ack; resolves with the acked seq in force, or -1 when `epoch` is not current.
   * An undefined epoch means the current one.
   */
  ack(userId: string, epoch: string | undefined, seq: number): Promise<number>
  /** ack(), plus the meta stored with the notification it acked (when the ack moved forward). */
  ackWithMeta(
    userId: string,
    epoch: string | undefined,
    seq: number,
  ): Promise<{ acked: number; meta: DeliveryMeta | undefined }>
}

interface Scripted {
  tdgDeliver(...args: Array<string | number>): Promise<[number, string, number] | [0, string]>
  tdgPublish(...args: Array<string | number>): Promise<number>
  tdgRead(...args: Array<string | number>): Promise<[string, number, number, number, string[], number]>
  tdgAck(...args: Array<string | number>): Promise<[number, string]>
}

// Epoch candidates: unique per process (random prefix) and per call (counter), without a
// random draw per notification. Only used when a user's state has to be created.
const epochPrefix = randomBytes(6).toString('base64url')
let epochCounter = 0
const nextEpochCandidate = (): string => `${epochPrefix}${(epochCounter++).toString(36)}`

export function createDeliveryStore(redis: RedisClient, retention: RetentionOptions): DeliveryStore {
  const r = validateRetention({ ...retention })
  // defineCommand runs EVALSHA and falls back to EVAL once per connection/node; with
  // enableAutoPipelining, concurrent calls share a round trip (per node in a cluster).
  redis.defineCommand('tdgDeliver', { numberOfKeys: 3, lua: DELIVER_TO_USER })
  redis.defineCommand('tdgPublish', { numberOfKeys: 1, lua: PUBLISH_TO_TOPIC })
  redis.defineCommand('tdgRead', { numberOfKeys: 2, lua: READ_INBOX })
  redis.defineCommand('tdgAck', { numberOfKeys: 2, lua: ACK })
  const s = redis as unknown as Scripted

  const ackWithMeta: DeliveryStore['ackWithMeta'] = async (userId, epoch, seq) => {
    const [acked, line] = await s.tdgAck(userStateKey(userId), userInboxKey(userId), epoch ?? '', seq)
    return { acked: Number(acked), meta: line === '' ? undefined : splitEntry(`${line}{`).meta }
  }

  return {
    async deliverToUser(userId, dedupeId, notification, meta) {
      // One serialisation per notification; the script prepends type and seq.
      const tail = JSON.stringify(toWire(notification)).slice(1)
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
      // the protocol's broadcast frame has no `kind`
      const { id, createdAt, title, body, data } = notification
      const frame = JSON.stringify({ type: 'broadcast', topic, id, createdAt, title, body, data })
      const res = await s.tdgPublish(
        topicDedupeKey(topic, dedupeId),
        r.dedupeWindowSeconds,
        topicChannel(topic),
        encodeMeta(meta) + frame,
      )
      return res === 1 ? 'published' : 'duplicate'
    },

    async readInbox(userId, from) {
      const lastSeq = from.lastSeq ?? 0
      const clientEpoch = from.epoch ?? ''
      const [epoch, seq, acked, firstSeq, entries, regressed] = await s.tdgRead(
        userStateKey(userId),
        userInboxKey(userId),
        nextEpochCandidate(),
        lastSeq,
        clientEpoch,
        r.stateTtlSeconds,
      )
      const frames: string[] = new Array(entries.length)
      const metas: Array<DeliveryMeta | undefined> = new Array(entries.length)
      for (let i = 0; i < entries.length; i++) {
        const split = splitEntry(entries[i]!)
        frames[i] = split.frame
        metas[i] = split.meta
      }
      const read: InboxRead = { epoch, seq, acked, frames, metas, firstSeq }
      if (regressed === 1) read.regressed = true
      const missed = computeMissed(from, read)
      if (missed) read.missed = missed
      return read
    },

    async ack(userId, epoch, seq) {
      return (await ackWithMeta(userId, epoch, seq)).acked
    },
    ackWithMeta,
  }
}

/**
 * The protocol's `missed` rule. A client that names an epoch that is not the current one gets
 * `missed` from 0. Otherwise what it may lack starts after max(lastSeq, acked): notifications
 * removed by an ack are never "missed"; a gap before the first one we can send is.
 */
export function computeMissed(
  from: ResumePoint,
  read: Omit<InboxRead, 'missed' | 'metas'>,
): MissedRange | undefined {
  if ((from.epoch !== undefined && from.epoch !== read.epoch) || read.regressed) {
    return { afterSeq: 0, nextSeq: read.firstSeq, epoch: read.epoch }
  }
  // a lastSeq is only meaningful in the epoch it came from (absent epoch: the current one)
  const lastSeq =
    from.epoch === undefined || from.epoch === read.epoch ? Math.min(from.lastSeq ?? 0, read.seq) : 0
  const seen = Math.max(lastSeq, read.acked)
  if (read.firstSeq > seen + 1) return { afterSeq: seen, nextSeq: read.firstSeq, epoch: read.epoch }
  return undefined
}

// Field order of the wire object is fixed here, so every frame of a kind looks the same.
function toWire(n: Notification): Notification {
  return { id: n.id, kind: n.kind, createdAt: n.createdAt, title: n.title, body: n.body, data: n.data }
}
