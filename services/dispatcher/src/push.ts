// The push hand-off (README "Push hand-off"): a notification whose user has no live session on any
// pod, or has one but does not ack within PUSH_AFTER_MS (the app is in the background with a socket
// the OS froze), becomes one push request on PUSH_TOPIC for the service that owns the device tokens.
//
// Exactly once per notification, through restarts and rebalances: the schedule is written to Redis
// (packages/delivery push.ts) before the event's offset is resolved, and a redelivered event finds
// it there (or its done mark); any dispatcher claims a due entry under a lease, checks the user's
// ack state, produces the request (acks from all replicas) and only then marks it done. What can
// still yield a second request: a dispatcher that dies (or loses Redis) after Kafka took the request
// and before the done mark, whose lease then runs out; a send split over partitions that fails for
// some of them (what landed is sent once more, alone) — push senders dedupe by notificationId.
//
// Nothing stops a shard for good: sends are split under max.message.bytes, a request the topic
// refuses for what it is (bigger than max.message.bytes on its own) is logged, counted and marked
// done, entries are checked and settled one by one, and one shard failing does not skip the others.
import { collapseKeyOf, type Notification, type PushRequest } from '@tidings/contracts'
import {
  type PresenceStore,
  PUSH_SHARDS,
  type PushEntry,
  type PushQueue,
  splitEntry,
} from '@tidings/delivery'
import { Counter, type Logger, type Registry } from '@tidings/runtime'
import type { Message, Producer } from 'kafkajs'
import type { PushConfig } from './push-config.ts'
import { isRecordRejected, splitForSend } from './record-limits.ts'

// The longest one send may take: kafkajs's requestTimeout (its default, 30 s) for each of the
// producer's 3 tries (service.ts: retries 2), and their backoffs. The broker's own wait for the
// replicas is SEND_TIMEOUT_MS.
const WORST_SEND_MS = 3 * 30_000 + 2_000
const SEND_TIMEOUT_MS = 10_000
// A claim is the dispatcher's for this long: longer than the sends it starts may take (they start
// until WORST_SEND_MS before it ends), so no other dispatcher takes over a claim whose request may
// still land; short enough that a dead dispatcher's claims are picked up by the others soon.
const LEASE_MS = 120_000
const CLAIM_LIMIT = 200
// Expired claims a round takes over, at most: claims that fail again and again (Kafka unavailable for
// their partition) must leave room for the entries that came due since.
const EXPIRED_LIMIT = 50

export interface PushHandOff {
  /** After a user's notification is in the inbox (or was found there): schedule its push. */
  afterUserDelivery(userId: string, notification: Notification, seq: number, epoch: string): Promise<void>
  /** After a broadcast is published (or found published): request its push now, if its topic is pushed. */
  afterBroadcast(topic: string, notification: Notification): Promise<void>
  /** Starts looking for due entries every PUSH_POLL_MS. */
  start(): void
  /** Stops looking; resolves when the round in hand is done. */
  stop(): Promise<void>
}

export interface PushHandOffDeps {
  config: PushConfig
  queue: PushQueue
  presence: PresenceStore
  producer: Producer
  /** The inbox's lifetime: a push is worth delivering while its notification can still be read. */
  inboxTtlSeconds: number
  registry: Registry
  logger: Logger
}

export function createPushHandOff(deps: PushHandOffDeps): PushHandOff {
  const { config, queue, producer, logger } = deps
  const registers = [deps.registry]
  const requests = new Counter({
    name: 'tidings_dispatcher_push_requests_total',
    help: 'Push requests produced to PUSH_TOPIC, by reason (offline, unacked, broadcast)',
    labelNames: ['reason'],
    registers,
  })
  const skipped = new Counter({
    name: 'tidings_dispatcher_push_skipped_total',
    help: 'Scheduled pushes not requested: acked in time (acked) or no longer in the inbox (gone)',
    labelNames: ['reason'],
    registers,
  })
  const errors = new Counter({
    name: 'tidings_dispatcher_push_errors_total',
    help: 'Passes over a shard of due pushes that left claims undone (Redis or Kafka unavailable); those claims are retried when their lease runs out',
    registers,
  })
  const refused = new Counter({
    name: 'tidings_dispatcher_push_refused_total',
    help: 'Push requests PUSH_TOPIC refused for what they are (bigger than its max.message.bytes on their own), by reason: logged and dropped, never retried',
    labelNames: ['reason'],
    registers,
  })
  for (const reason of ['offline', 'unacked', 'broadcast']) {
    requests.inc({ reason }, 0)
    refused.inc({ reason }, 0)
  }
  for (const reason of ['acked', 'gone']) skipped.inc({ reason }, 0)

  const wanted = (kind: string) => config.kinds === undefined || config.kinds.has(kind)
  const send = (messages: Message[]) =>
    producer.send({ topic: config.topic, acks: -1, timeout: SEND_TIMEOUT_MS, messages })

  function request(n: Notification, extra: Partial<PushRequest> & Pick<PushRequest, 'reason'>): Message {
    const req: PushRequest = {
      ...extra,
      notificationId: n.id,
      kind: n.kind,
      title: n.title,
      body: n.body,
      data: n.data,
      collapseKey: collapseKeyOf(n.kind, n.data),
      // an unacked one was written PUSH_AFTER_MS ago: that much of the inbox's lifetime is gone
      ttlSeconds: Math.max(
        0,
        deps.inboxTtlSeconds - (extra.reason === 'unacked' ? Math.ceil(config.afterMs / 1000) : 0),
      ),
      createdAt: n.createdAt,
    }
    return { key: extra.userId ?? extra.topic ?? null, value: JSON.stringify(req) }
  }

  let timer: NodeJS.Timeout | undefined
  let round: Promise<void> | undefined
  let stopped = false

  /** One pass over every shard; a shard that fails is counted and logged, the others go on. */
  async function poll(): Promise<void> {
    const failed: number[] = []
    let first: unknown
    for (let shard = 0; shard < PUSH_SHARDS && !stopped; shard++) {
      try {
        await pollShard(shard)
      } catch (err) {
        errors.inc()
        failed.push(shard)
        first ??= err
      }
    }
    // one line a round, not one a shard: with Redis down every shard fails every round
    if (failed.length > 0) {
      logger.warn(
        { shards: failed, err: (first as Error).message },
        'push shards failed; their undone claims are retried after their lease',
      )
    }
  }

  /**
   * Claims what is due in one shard, checks each entry, requests what is still unacked and marks
   * done what is settled. Throws (after marking the rest) when some entry is left to its lease.
   */
  async function pollShard(shard: number): Promise<void> {
    const due = await queue.claim(shard, LEASE_MS, CLAIM_LIMIT, EXPIRED_LIMIT)
    if (due.length === 0) return
    const sendUntil = Date.now() + LEASE_MS - WORST_SEND_MS
    const checks = await Promise.allSettled(due.map((e) => queue.check(e)))
    const pending: Pending[] = []
    const settled: PushEntry[] = []
    let failure: unknown
    checks.forEach((c, i) => {
      const entry = due[i] as PushEntry
      if (c.status === 'rejected') {
        failure ??= c.reason // stays claimed: tried again when its lease runs out
        return
      }
      if (c.value.status !== 'pending') {
        skipped.inc({ reason: c.value.status })
        settled.push(entry)
        return
      }
      const { frame, meta } = splitEntry(c.value.entry)
      const n = parseFrame(frame)
      if (!n) {
        logger.error(
          { userId: entry.userId, seq: entry.seq },
          'an inbox entry is not a notification frame; no push',
        )
        settled.push(entry)
        return
      }
      // the dispatcher span that wrote it: the push sender's spans join the event's trace
      const traceparent = meta?.traceparent
      const extra = {
        userId: entry.userId,
        seq: entry.seq,
        reason: entry.reason,
        ...(traceparent ? { traceparent } : {}),
      }
      pending.push({ entry, message: request(n, extra) })
    })
    const produced = await produce(pending, sendUntil)
    failure ??= produced.error
    await Promise.all([...settled, ...produced.handled].map((e) => queue.done(e, deps.inboxTtlSeconds)))
    if (failure !== undefined) throw failure
  }

  /**
   * Sends the requests in sends that fit max.message.bytes. A send that fails is redone one record at
   * a time: kafkajs writes a send's records broker by broker, so when one partition refuses (its
   * leader down, NOT_ENOUGH_REPLICAS) the others already landed, and leaving them all claimed would
   * send them again at every lease until it recovers. One at a time, what lands is marked done (sent
   * twice at most), a record refused for what it is is dropped, and one whose partition is
   * unavailable stays claimed. No send starts after `sendUntil` (Kafka black-holed: each one waits out
   * its timeouts), so none is in flight when the claims' lease runs out. Returns the entries that are
   * handled (sent or dropped), and the first unavailability met.
   */
  async function produce(
    pending: Pending[],
    sendUntil: number,
  ): Promise<{ handled: PushEntry[]; error?: unknown }> {
    const handled: PushEntry[] = []
    let failure: unknown
    /** A request sent alone: handled when sent or refused for what it is; else it stays claimed. */
    const settle = (p: Pending, sent: boolean, error?: unknown): void => {
      if (sent) requests.inc({ reason: p.entry.reason })
      else if (isRecordRejected(error))
        refuse(p.entry.reason, error, { userId: p.entry.userId, notificationId: p.entry.notificationId })
      else {
        failure ??= error
        return
      }
      handled.push(p.entry)
    }
    const sendAlone = async (p: Pending): Promise<void> => {
      try {
        await send([p.message])
        settle(p, true)
      } catch (error) {
        settle(p, false, error)
      }
    }
    let next = 0
    for (const chunk of splitForSend(pending.map((p) => p.message))) {
      const part = pending.slice(next, next + chunk.length)
      next += chunk.length
      if (Date.now() > sendUntil) break
      try {
        await send(chunk)
        for (const p of part) settle(p, true)
        continue
      } catch (error) {
        if (part.length === 1) {
          settle(part[0]!, false, error)
          continue
        }
      }
      for (const p of part) {
        if (Date.now() > sendUntil) break
        await sendAlone(p)
      }
    }
    return failure === undefined ? { handled } : { handled, error: failure }
  }

  function refuse(reason: PushRequest['reason'], err: unknown, about: Record<string, string>): void {
    refused.inc({ reason })
    logger.error(
      { ...about, reason, err: (err as Error).message },
      'PUSH_TOPIC refused the push request (check its max.message.bytes); no push for this notification',
    )
  }

  function schedule(): void {
    if (stopped) return
    timer = setTimeout(() => {
      round = poll()
        .catch((err: unknown) => {
          // pollShard's failures are caught per shard: this is a bug
          logger.error({ err }, 'push round failed')
        })
        .finally(() => {
          round = undefined
          schedule()
        })
    }, config.pollMs)
  }

  return {
    async afterUserDelivery(userId, notification, seq, epoch) {
      if (!wanted(notification.kind)) return
      const sessions = await deps.presence.count(userId)
      const reason = sessions === 0 ? 'offline' : 'unacked'
      await queue.schedule(
        { notificationId: notification.id, userId, epoch, seq, reason },
        reason === 'offline' ? 0 : config.afterMs,
      )
    },
    async afterBroadcast(topic, notification) {
      if (!config.broadcastTopics.has(topic) || !wanted(notification.kind)) return
      // a broadcast is not acked: pushed at once. A redelivered event pushes again (at least once).
      try {
        await send([request(notification, { topic, reason: 'broadcast' })])
        requests.inc({ reason: 'broadcast' })
      } catch (err) {
        // retrying cannot make it fit: it must not stall the event's partition
        if (!isRecordRejected(err)) throw err
        refuse('broadcast', err, { topic, notificationId: notification.id })
      }
    },
    start() {
      stopped = false
      schedule()
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await round
    },
  }
}

interface Pending {
  entry: PushEntry
  message: Message
}

/** The notification in an inbox frame: `{"type":"notification","seq":…,"id":…,…}`. */
function parseFrame(json: string): Notification | undefined {
  try {
    const f = JSON.parse(json) as Partial<Notification> & { type?: string }
    if (f.type !== 'notification' || typeof f.id !== 'string' || typeof f.kind !== 'string') return undefined
    return {
      id: f.id,
      kind: f.kind,
      createdAt: String(f.createdAt),
      title: String(f.title),
      body: String(f.body),
      data: typeof f.data === 'object' && f.data !== null ? f.data : {},
    }
  } catch {
    return undefined
  }
}
