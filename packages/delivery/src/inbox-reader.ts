import type { InboxRead, ResumePoint } from './inbox.ts'
import type { DeliveryMeta } from './meta.ts'

/**
 * The gateway's side of delivery: what a user has not seen, and their acks. Implementations:
 * Redis (inbox-reader-redis.ts), one process (inbox-memory.ts, with the writer's side).
 */
export interface InboxReader {
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

export interface InboxReaderOptions {
  /** Seconds the user's epoch/seq/acked state outlives the user's last activity (a read renews it). */
  stateTtlSeconds: number
}
