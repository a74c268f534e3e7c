import { randomBytes } from 'node:crypto'
import type { DeliveryMeta } from './meta.ts'

// What the inbox's writer (the dispatcher) and reader (the gateway) share: the shape of a read,
// the resume point a client names, the protocol's `missed` rule and the epoch candidates.

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
  /**
   * The id of the client's notification at `lastSeq`. When the inbox still holds that seq with
   * another id, Redis lost writes and reused the seqs up to it: the read is `regressed`.
   */
  lastId?: string
}

/** lastId as it appears inside a stored frame (JSON.stringify's escaping), or '' for none. */
export const lastIdInFrame = (from: ResumePoint): string =>
  from.lastId === undefined ? '' : JSON.stringify(from.lastId).slice(1, -1)

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

/** A read as the protocol answers it, from either implementation: marked regressed, with its `missed` range. */
export function finishRead(from: ResumePoint, read: InboxRead, regressed: boolean): InboxRead {
  if (regressed) read.regressed = true
  const missed = computeMissed(from, read)
  if (missed) read.missed = missed
  return read
}

// Epoch candidates: unique per process (random prefix) and per call (counter), without a
// random draw per notification. Only used when a user's state has to be created, by whichever
// of writer and reader touches the user first.
const epochPrefix = randomBytes(6).toString('base64url')
let epochCounter = 0
export const nextEpochCandidate = (): string => `${epochPrefix}${(epochCounter++).toString(36)}`
