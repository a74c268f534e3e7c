// The writes of one call (batch.ts): users' notifications through one InboxWriter.deliverToUsers
// (many users per script call), broadcasts one by one per topic, each followed by its push hand-off
// (scheduled before the record's offset may resolve). One outcome per write, in order; never throws.
import type { DeliverOutcome, InboxWriter, UserDelivery } from '@tidings/delivery'
import { NotTriedError } from './failures.ts'
import type { Delivery } from './map.ts'
import type { DispatcherMetrics } from './metrics.ts'
import type { PushHandOff } from './push.ts'
import type { RecordTrace } from './tracing.ts'

export interface Write {
  delivery: Delivery
  trace: RecordTrace
}

export type WriteOutcome = { ok: true; value: 'delivered' | 'duplicate' } | { ok: false; reason: unknown }

export interface CallWriter {
  /** Writes whose target is a user. */
  deliverUsers(writes: Write[]): Promise<WriteOutcome[]>
  /** Writes whose target is a topic. */
  publishTopics(writes: Write[]): Promise<WriteOutcome[]>
}

export function createCallWriter(deps: {
  store: InboxWriter
  metrics: DispatcherMetrics
  push?: PushHandOff
}): CallWriter {
  const { store, metrics } = deps
  const SKIPPED: WriteOutcome = { ok: false, reason: new NotTriedError() }
  const DELIVERED: WriteOutcome = { ok: true, value: 'delivered' }
  const DUPLICATE: WriteOutcome = { ok: true, value: 'duplicate' }

  /** A user write's outcome when no push hand-off follows it. */
  const written = (res: DeliverOutcome): WriteOutcome => {
    if (res.status === 'failed') return { ok: false, reason: res.error }
    if (res.status === 'skipped') return SKIPPED
    if (res.status === 'delivered') metrics.inboxLength.observe(res.inboxLength)
    return res.status === 'delivered' ? DELIVERED : DUPLICATE
  }

  /**
   * The users' notifications of one call in one go (InboxWriter.deliverToUsers: a user's in order,
   * a user's later ones skipped after a failure), then their push hand-offs. The Redis call runs in
   * the first record's span (its trace shows the write; every record's meta carries its own span).
   */
  async function deliverUsers(writes: Write[]): Promise<WriteOutcome[]> {
    const items: UserDelivery[] = []
    for (const job of writes) {
      const d = job.delivery as Delivery & { target: 'user' }
      items.push({
        userId: d.userId,
        dedupeId: d.dedupeId,
        notification: d.notification,
        meta: job.trace.meta,
      })
    }
    let outcomes: DeliverOutcome[]
    try {
      outcomes = await writes[0]!.trace.run(() => store.deliverToUsers(items))
    } catch (error) {
      outcomes = items.map(() => ({ status: 'failed', error }))
    }
    const push = deps.push
    // without push, settled here: no promise per notification
    if (!push) return outcomes.map(written)
    return Promise.all(
      outcomes.map(async (res, i): Promise<WriteOutcome> => {
        if (res.status === 'failed' || res.status === 'skipped') return written(res)
        if (res.status === 'delivered') metrics.inboxLength.observe(res.inboxLength)
        // also for a duplicate: the dispatcher that wrote it may have died before scheduling the push
        const at = res.status === 'delivered' ? res : res.first
        if (at) {
          const item = items[i]!
          try {
            // in the record's own span: its Redis commands are children of that record's trace
            await writes[i]!.trace.run(() =>
              push.afterUserDelivery(item.userId, item.notification, at.seq, at.epoch),
            )
          } catch (reason) {
            return { ok: false, reason }
          }
        }
        return { ok: true, value: res.status }
      }),
    )
  }

  /** Broadcasts: one after the other per topic, stopping at a topic's first failure. */
  async function publishTopics(writes: Write[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array(writes.length)
    const byTopic = new Map<string, number[]>()
    writes.forEach((job, i) => {
      const key = job.delivery.target === 'topic' ? job.delivery.topic : ''
      const list = byTopic.get(key)
      if (list) list.push(i)
      else byTopic.set(key, [i])
    })
    await Promise.all(
      [...byTopic.values()].map(async (indexes) => {
        let failed = false
        for (const i of indexes) {
          if (failed) {
            outcomes[i] = SKIPPED
            continue
          }
          const job = writes[i]!
          const d = job.delivery as Delivery & { target: 'topic' }
          try {
            const published = await job.trace.run(async () => {
              const res = await store.publishToTopic(d.topic, d.dedupeId, d.notification, job.trace.meta)
              if (deps.push) await deps.push.afterBroadcast(d.topic, d.notification)
              return res
            })
            outcomes[i] = { ok: true, value: published === 'published' ? 'delivered' : 'duplicate' }
          } catch (reason) {
            outcomes[i] = { ok: false, reason }
            failed = true
          }
        }
      }),
    )
    return outcomes
  }

  return { deliverUsers, publishTopics }
}
