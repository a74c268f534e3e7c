// The ordered delivery queue: what arrives is handled one item at a time, in arrival order. The app's
// handlers are awaited before the next item; the position advances (and the ack is scheduled) only
// after a notification was handled. Ids are deduped within the app run.
import type { AckBatcher } from './acks.ts'
import type { Emitter } from './emitter.ts'
import { TidingsError } from './errors.ts'
import type { SessionInfo, TidingsEvents } from './events.ts'
import { LruSet } from './lru.ts'
import type { ResumePosition } from './resume.ts'
import type { BroadcastFrame, MissedFrame, NotificationFrame } from './wire.ts'

export type DeliveryItem =
  | { type: 'welcome'; epoch: string; userId: string }
  | MissedFrame
  | NotificationFrame
  | BroadcastFrame

/** What the queue needs to know about the connection. */
export interface DeliveryLink {
  /** False once the client stopped: handled notifications are no longer acked. */
  readonly running: boolean
  readonly session: Readonly<SessionInfo> | undefined
  /** The session now lives in `epoch` (after `missed`): acks are for it from here on. */
  adoptEpoch(epoch: string): void
}

export interface DeliveryDeps {
  resume: ResumePosition
  acks: AckBatcher
  emitter: Emitter<TidingsEvents>
  report: (error: TidingsError) => void
  onNotification: ((notification: NotificationFrame) => unknown) | undefined
  link: DeliveryLink
  dedupeSize: number
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function'

export interface DeliveryQueue {
  enqueue(item: DeliveryItem): void
  /** Settles when everything queued so far was handled (undefined: nothing is being handled). */
  readonly idle: Promise<void> | undefined
  /** Drops what has not been handled yet (the client stopped, or it was another user's). */
  dropPending(): void
  /** Forgets the ids seen so far (a new user, or a reset position). */
  forgetSeen(): void
}

export function createDeliveryQueue(deps: DeliveryDeps): DeliveryQueue {
  const { resume, acks, emitter, report, onNotification, link } = deps
  const queue: DeliveryItem[] = []
  const seen = new LruSet(deps.dedupeSize)
  let draining: Promise<void> | undefined

  const drain = async (): Promise<void> => {
    try {
      for (let item = queue.shift(); item; item = queue.shift()) await deliver(item)
    } finally {
      draining = undefined
    }
  }

  const deliver = async (item: DeliveryItem): Promise<void> => {
    switch (item.type) {
      case 'welcome':
        return adoptEpoch(item.epoch, item.userId, true)
      case 'missed':
        adoptEpoch(item.epoch, link.session?.userId, false)
        link.adoptEpoch(item.epoch)
        // the server went back (writes lost in a failover): what follows may reuse seqs
        if (resume.rewind(item.afterSeq)) acks.reset()
        void emitter.emit('missed', { afterSeq: item.afterSeq, nextSeq: item.nextSeq, epoch: item.epoch })
        return
      case 'broadcast':
        if (seen.add(`b:${item.id}`)) void emitter.emit('broadcast', item)
        return
      case 'notification': {
        const position = resume.ensure(link.session?.epoch ?? '')
        if (item.seq <= position.lastSeq) return // replayed again: already handled
        if (seen.add(`n:${item.id}`)) await handle(item)
        // the position may have been reset (resetResume, another user) while the handler ran
        if (resume.advance(item.seq, item.id) && link.running) acks.handled(item.seq)
        return
      }
    }
  }

  const adoptEpoch = (epoch: string, userId: string | undefined, welcome: boolean): void => {
    // A new life of the user's sequence: a lastSeq from another epoch means nothing.
    if (resume.enterEpoch(epoch)) acks.reset()
    else if (welcome && resume.current!.lastSeq > 0) {
      // Acked again, in case the last ack was lost with the connection, but not at once: when the
      // server finds that Redis lost writes and reused seqs up to lastSeq, `missed` from 0 follows
      // the welcome (and cancels this), and acking lastSeq would delete notifications nobody saw. Not
      // by a flush before the interval either (close() on `open`): the missed may not be handled yet.
      acks.restoreSoon(resume.current!.lastSeq)
    }
    resume.claim(userId)
  }

  const handle = async (n: NotificationFrame): Promise<void> => {
    try {
      const r = onNotification?.(n)
      if (isThenable(r)) await r
    } catch (cause) {
      report(new TidingsError('handler', `onNotification threw for ${n.id}`, { cause }))
    }
    await emitter.emit('notification', n)
  }

  return {
    enqueue(item) {
      queue.push(item)
      draining ??= drain()
    },
    get idle() {
      return draining
    },
    dropPending() {
      queue.length = 0
    },
    forgetSeen() {
      seen.clear()
    },
  }
}
