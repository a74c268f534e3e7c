import { finishRead, lastIdInFrame, nextEpochCandidate } from './inbox.ts'
import type { InboxReader } from './inbox-reader.ts'
import {
  broadcastFrame,
  deliverEachInOrder,
  type InboxWriter,
  notificationFrameTail,
} from './inbox-writer.ts'
import { NOTIFICATION_FRAME_PREFIX } from './live-message.ts'
import type { DeliveryMeta } from './meta.ts'
import type { MemoryRouter } from './router-memory.ts'

interface UserState {
  epoch: string
  seq: number
  acked: number
  /** Seqs `seq - entries.length + 1` … `seq`, oldest first (the invariant of scripts.ts). */
  entries: Array<{ frame: string; meta: DeliveryMeta | undefined }>
  delivered: Map<string, { seq: number; epoch: string }>
}

export interface MemoryInbox extends InboxReader, InboxWriter {
  /** Loses the user's state, as a Redis failover may: the next read or write starts a new epoch. */
  forget(userId: string): void
  /**
   * Loses the user's latest `count` writes but not the epoch, as a failover to a replica behind
   * on asynchronous replication may: their seqs are handed out again.
   */
  loseLatest(userId: string, count: number): void
}

/**
 * The inbox of one process (unit tests, a single-process development gateway), with the rules of
 * the Redis scripts (scripts.ts): contiguous seqs per epoch, a capped inbox, cumulative acks that
 * trim it, dedupe by id (no expiry here), and the `missed` rule (inbox.ts). Deliveries are
 * published on `router` like the deliver script's SPUBLISH.
 */
export function createMemoryInbox(opts: { inboxCap: number; router?: MemoryRouter }): MemoryInbox {
  const users = new Map<string, UserState>()
  const stateOf = (userId: string): UserState => {
    let st = users.get(userId)
    if (!st) {
      st = { epoch: nextEpochCandidate(), seq: 0, acked: 0, entries: [], delivered: new Map() }
      users.set(userId, st)
    }
    return st
  }
  const ackWithMeta: InboxReader['ackWithMeta'] = async (userId, epoch, seq) => {
    const st = users.get(userId)
    if (!st || (epoch !== undefined && epoch !== '' && epoch !== st.epoch))
      return { acked: -1, meta: undefined }
    // above the latest seq: ignored, as the ACK script does
    if (seq > st.seq || seq <= st.acked) return { acked: st.acked, meta: undefined }
    st.acked = seq
    const head = st.seq - st.entries.length + 1
    const drop = Math.max(0, seq - head + 1)
    const meta = st.entries[drop - 1]?.meta
    st.entries.splice(0, drop)
    return { acked: seq, meta }
  }
  const inbox: MemoryInbox = {
    deliverToUsers: (items) => deliverEachInOrder(items, inbox.deliverToUser),
    async deliverToUser(userId, dedupeId, notification, meta) {
      const st = stateOf(userId)
      const first = st.delivered.get(dedupeId)
      if (first) return { status: 'duplicate', first }
      const seq = ++st.seq
      const frame = `${NOTIFICATION_FRAME_PREFIX}${seq},${notificationFrameTail(notification)}`
      st.entries.push({ frame, meta })
      if (st.entries.length > opts.inboxCap) st.entries.splice(0, st.entries.length - opts.inboxCap)
      st.delivered.set(dedupeId, { seq, epoch: st.epoch })
      opts.router?.publishToUser(userId, { epoch: st.epoch, seq, frame: Buffer.from(frame), meta })
      return { status: 'delivered', seq, epoch: st.epoch, inboxLength: st.entries.length }
    },
    async publishToTopic(topic, _dedupeId, notification) {
      opts.router?.publishToTopic(topic, Buffer.from(broadcastFrame(topic, notification)))
      return 'published'
    },
    async readInbox(userId, from) {
      const st = stateOf(userId)
      let after = 0
      let regressed = false
      const head = st.seq - st.entries.length + 1
      if (from.epoch === undefined || from.epoch === st.epoch) {
        after = from.lastSeq ?? 0
        // past the latest seq, or that seq now holds another id: writes lost, seqs reused
        const there = from.lastId !== undefined && after >= 1 ? st.entries[after - head] : undefined
        const expected = `${NOTIFICATION_FRAME_PREFIX}${after},"id":"${lastIdInFrame(from)}"`
        if (after > st.seq || (there && !there.frame.startsWith(expected))) {
          after = 0
          regressed = true
        }
      }
      const entries = st.entries.slice(Math.max(after + 1, head) - head)
      const frames = entries.map((e) => e.frame)
      const metas = entries.map((e) => e.meta)
      const firstSeq = st.seq - entries.length + 1
      return finishRead(
        from,
        { epoch: st.epoch, seq: st.seq, acked: st.acked, frames, metas, firstSeq },
        regressed,
      )
    },
    ack: async (userId, epoch, seq) => (await ackWithMeta(userId, epoch, seq)).acked,
    ackWithMeta,
    forget(userId) {
      users.delete(userId)
    },
    loseLatest(userId, count) {
      const st = users.get(userId)
      if (!st) return
      const lost = Math.min(count, st.seq)
      st.seq -= lost
      st.entries.splice(Math.max(0, st.entries.length - lost))
      for (const [id, at] of st.delivered) if (at.seq > st.seq) st.delivered.delete(id)
    },
  }
  return inbox
}
