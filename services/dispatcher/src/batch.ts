// One Kafka batch (records of one partition, in offset order) → notifications in Redis and bad
// events on the dead-letter topic, with the offset rule that makes delivery at-least-once:
//
//   an offset is resolved (and so may be committed) only when it and every record before it in the
//   partition is either written to Redis or stored on the dead-letter topic.
//
// Redis or the DLQ failing never skips a record: the handler backs off and retries the rest of the
// batch from the first unsafe record, heartbeating meanwhile, until it succeeds, the consumer stops,
// or a rebalance takes the partition away (kafkajs then commits only what was resolved). A record
// retried after a write that did happen is recognised by the store's dedupe and not written twice.
import type { InboxWriter } from '@tidings/delivery'
import { type Logger, redisErrorKind } from '@tidings/runtime'
import type { EachBatchPayload, KafkaMessage } from 'kafkajs'
import { type BackoffOptions, backoffDelay, pause } from './backoff.ts'
import type { DeadLetter, DeadLetterSender } from './dead-letter.ts'
import { decodeEvent, type EventType } from './decode.ts'
import { type Delivery, toDelivery } from './map.ts'
import { type DispatcherMetrics, kafkaErrorKind } from './metrics.ts'
import type { PushHandOff } from './push.ts'
import type { DeadLetterReason } from './reasons.ts'
import { createRecordTracer, type RecordTrace, type RecordTracer } from './tracing.ts'

export interface BatchHandlerDeps {
  /** Input topic → the event type it carries. */
  topicTypes: ReadonlyMap<string, EventType>
  maxEventBytes: number
  store: InboxWriter
  sendDeadLetters: DeadLetterSender
  metrics: DispatcherMetrics
  logger: Logger
  retry: BackoffOptions
  /** Aborted when the dispatcher stops: cuts a backoff short. */
  stopping: AbortSignal
  /** Each record's span and the meta stored with its notification (tracing.ts). Default: no spans. */
  tracer?: RecordTracer
  /** The push hand-off, when PUSH_TOPIC is set: part of storing an event, before its offset resolves. */
  push?: PushHandOff
}

type Work =
  | { kind: 'deliver'; delivery: Delivery }
  | { kind: 'dead-letter'; reason: DeadLetterReason; detail: string }

interface Job {
  message: KafkaMessage
  work: Work
  done: boolean
  trace: RecordTrace
}

// Records sent to Redis at once. A fetch may return thousands; slices keep memory flat, let offsets
// be resolved (and committed) as the batch progresses, and bound what a failure makes us redo.
const SLICE = 500

export type BatchHandler = (payload: EachBatchPayload) => Promise<void>

export function createBatchHandler(deps: BatchHandlerDeps): BatchHandler {
  const { metrics, logger, store } = deps
  const tracer = deps.tracer ?? createRecordTracer(false, metrics.eventAge)

  /** Decodes and maps one record; never throws (a failure here is a dead letter, not a stall). */
  function prepare(message: KafkaMessage, topic: string, trace: RecordTrace): Job {
    const deadLetter = (reason: DeadLetterReason, detail: string): Job => ({
      message,
      work: { kind: 'dead-letter', reason, detail },
      done: false,
      trace,
    })
    try {
      const type = deps.topicTypes.get(topic)
      if (!type) return deadLetter('internal_error', `topic ${topic} is not an input topic`)
      const decoded = decodeEvent(message, type, deps.maxEventBytes)
      if (!decoded.ok) return deadLetter(decoded.reason, decoded.message)
      const mapped = toDelivery(decoded.value, topic)
      if (!mapped.ok) return deadLetter(mapped.reason, mapped.message)
      return { message, work: { kind: 'deliver', delivery: mapped.value }, done: false, trace }
    } catch (err) {
      logger.error({ err, topic, offset: message.offset }, 'failed to prepare an event')
      return deadLetter('internal_error', errorMessage(err) ?? 'unknown error')
    }
  }

  async function write(d: Delivery, meta: RecordTrace['meta']): Promise<'delivered' | 'duplicate'> {
    const push = deps.push
    if (d.target === 'user') {
      const res = await store.deliverToUser(d.userId, d.dedupeId, d.notification, meta)
      if (res.status === 'delivered') metrics.inboxLength.observe(res.inboxLength)
      // also for a duplicate: the dispatcher that wrote it may have died before scheduling the push
      const at = res.status === 'delivered' ? res : res.first
      if (push && at) await push.afterUserDelivery(d.userId, d.notification, at.seq, at.epoch)
      return res.status
    }
    const published = await store.publishToTopic(d.topic, d.dedupeId, d.notification, meta)
    if (push) await push.afterBroadcast(d.topic, d.notification)
    return published === 'published' ? 'delivered' : 'duplicate'
  }

  /**
   * One try at every job not yet done: all Redis writes fired together (ioredis pipelines them into
   * one round trip per node), the dead letters sent meanwhile. Marks jobs done; returns the errors.
   */
  async function attempt(
    jobs: Job[],
    topic: string,
    partition: number,
  ): Promise<{ redis?: unknown; dlq?: unknown }> {
    const writes: Array<{ job: Job; delivery: Delivery }> = []
    const letters: Job[] = []
    for (const job of jobs) {
      if (job.done) continue
      if (job.work.kind === 'deliver') writes.push({ job, delivery: job.work.delivery })
      else letters.push(job)
    }
    const errors: { redis?: unknown; dlq?: unknown } = {}

    const [results, dlqError] = await Promise.all([writeInUserOrder(writes), park(letters, topic, partition)])
    if (dlqError !== undefined) errors.dlq = dlqError

    const refused: Job[] = []
    results.forEach((r, i) => {
      const { job, delivery } = writes[i]!
      if (r.status === 'fulfilled') {
        job.done = true
        job.trace.end(r.value)
        if (r.value === 'delivered') metrics.notificationsDelivered.inc({ target: delivery.target })
        else metrics.duplicates.inc({ target: delivery.target })
      } else if (isRedisUnavailable(r.reason)) {
        // a write held back behind its user's failed one is no failure of its own
        if (!(r.reason instanceof NotTriedError)) errors.redis ??= r.reason
      } else {
        // Retrying would fail the same way forever and stall the partition: park it instead.
        const reason =
          r.reason instanceof Error && r.reason.name === 'ReplyError' ? 'store_rejected' : 'internal_error'
        if (reason === 'internal_error')
          logger.error({ err: r.reason, topic, partition }, 'failed to store an event')
        job.work = { kind: 'dead-letter', reason, detail: errorMessage(r.reason) ?? '' }
        refused.push(job)
      }
    })
    if (refused.length > 0) {
      const err = await park(refused, topic, partition)
      if (err !== undefined) errors.dlq ??= err
    }
    return errors
  }

  /**
   * Different users' writes go together (one pipelined round trip per node); one user's writes go
   * one after the other, and stop at the first failure: if an earlier event of a user failed and a
   * later one succeeded, the retry would give the earlier event the later seq. A user with many
   * events in one batch costs one round trip per event, which is the price of their order.
   */
  function writeInUserOrder(
    writes: Array<{ job: Job; delivery: Delivery }>,
  ): Promise<PromiseSettledResult<'delivered' | 'duplicate'>[]> {
    const results: PromiseSettledResult<'delivered' | 'duplicate'>[] = new Array(writes.length)
    const byKey = new Map<string, number[]>()
    writes.forEach((w, i) => {
      const d = w.delivery
      const key = d.target === 'user' ? `u:${d.userId}` : `t:${d.topic}`
      const list = byKey.get(key)
      if (list) list.push(i)
      else byKey.set(key, [i])
    })
    const notTried: PromiseRejectedResult = { status: 'rejected', reason: new NotTriedError() }
    return Promise.all(
      [...byKey.values()].map(async (indexes) => {
        let failed = false
        for (const i of indexes) {
          if (failed) {
            results[i] = notTried
            continue
          }
          try {
            const { job, delivery } = writes[i]!
            results[i] = {
              status: 'fulfilled',
              value: await job.trace.run(() => write(delivery, job.trace.meta)),
            }
          } catch (reason) {
            results[i] = { status: 'rejected', reason }
            // Only a write that will be retried holds the user's later ones back (they must not
            // take its seq); one refused for good becomes a dead letter and is never written.
            failed = isRedisUnavailable(reason)
          }
        }
      }),
    ).then(() => results)
  }

  /** Sends dead letters in order; marks those stored; returns the error that stopped it, if any. */
  async function park(jobs: Job[], topic: string, partition: number): Promise<unknown> {
    const letters: Array<{ job: Job; letter: DeadLetter }> = []
    for (const job of jobs) {
      if (job.work.kind !== 'dead-letter') continue
      const { reason, detail } = job.work
      letters.push({ job, letter: { topic, partition, message: job.message, reason, detail } })
    }
    if (letters.length === 0) return undefined
    const { sent, error, shortened, lost } = await deps.sendDeadLetters(letters.map((l) => l.letter))
    const skipped = new Set(lost)
    for (const [index, { job, letter }] of letters.slice(0, sent).entries()) {
      job.done = true
      job.trace.end('dead_letter', letter.reason)
      if (skipped.has(index)) continue // logged below: it is not on the topic
      metrics.deadLetters.inc({ reason: letter.reason })
      logger.warn(
        { topic, partition, offset: letter.message.offset, reason: letter.reason, detail: letter.detail },
        'event sent to the dead-letter topic',
      )
    }
    for (const { index, form } of shortened) {
      metrics.deadLettersShortened.inc({ form })
      const offset = letters[index]?.letter.message.offset
      logger.warn(
        { topic, partition, offset, form },
        'the dead-letter topic refused the letter whole; stored it shortened',
      )
    }
    for (const index of lost) {
      metrics.deadLettersLost.inc()
      const offset = letters[index]?.letter.message.offset
      logger.error(
        { topic, partition, offset },
        'the dead-letter topic refused even a bare letter (check its max.message.bytes); the event is skipped',
      )
    }
    return error
  }

  /**
   * Settles one slice: loops until every job is done (→ true) or the consumer must let go of the
   * partition (→ false). Resolves offsets as the done prefix grows.
   */
  async function settle(jobs: Job[], payload: EachBatchPayload): Promise<boolean> {
    const { topic, partition } = payload.batch
    let next = 0 // first job whose offset is not resolved
    let failures = 0 // consecutive attempts without progress: drives the backoff
    let retrying = false
    let attempts = 0
    try {
      for (;;) {
        attempts++
        const errors = await attempt(jobs.slice(next), topic, partition)
        let k = next
        while (k < jobs.length && jobs[k]!.done) k++
        if (k > next) {
          payload.resolveOffset(jobs[k - 1]!.message.offset)
          next = k
          failures = 0
        }
        if (next === jobs.length) {
          if (retrying) logger.info({ topic, partition, attempts }, 'events stored again after retrying')
          return true
        }

        failures++
        if (!retrying) {
          retrying = true
          metrics.retryingPartitions.inc()
        }
        if (errors.redis !== undefined) {
          metrics.redisRetries.inc()
          metrics.redisErrors.inc({ kind: redisErrorKind(errors.redis) })
        }
        if (errors.dlq !== undefined) {
          metrics.deadLetterRetries.inc()
          metrics.kafkaErrors.inc({ kind: kafkaErrorKind(errors.dlq) })
        }
        const delayMs = backoffDelay(failures, deps.retry)
        const log =
          failures === 1 || failures % 10 === 0 ? logger.warn.bind(logger) : logger.debug.bind(logger)
        log(
          {
            topic,
            partition,
            offset: jobs[next]!.message.offset,
            failures,
            delayMs,
            redisError: errorMessage(errors.redis),
            dlqError: errorMessage(errors.dlq),
          },
          'could not store events; retrying from the first unstored one',
        )
        // A rebalance surfaces here as a thrown error: kafkajs commits what is resolved and rejoins.
        await payload.heartbeat()
        if (mustLetGo(payload)) return false
        await pause(delayMs, deps.stopping)
        if (mustLetGo(payload)) return false
      }
    } finally {
      if (retrying) metrics.retryingPartitions.dec()
    }
  }

  const mustLetGo = (p: EachBatchPayload): boolean => !p.isRunning() || p.isStale() || deps.stopping.aborted

  return async function eachBatch(payload) {
    const { batch } = payload
    const endTimer = metrics.batchDuration.startTimer()
    metrics.batchSize.observe(batch.messages.length)
    metrics.eventsConsumed.inc({ topic: batch.topic }, batch.messages.length)
    try {
      for (let from = 0; from < batch.messages.length; from += SLICE) {
        const jobs = batch.messages
          .slice(from, from + SLICE)
          .map((m) => prepare(m, batch.topic, tracer.start(m, batch.topic, batch.partition)))
        try {
          if (!(await settle(jobs, payload))) return
        } finally {
          // records of a partition let go of are redelivered (to this or another member): new spans
          for (const job of jobs) if (!job.done) job.trace.end('released')
        }
        await payload.commitOffsetsIfNecessary()
        await payload.heartbeat()
      }
    } finally {
      endTimer()
    }
  }
}

/** A write held back because an earlier write of the same user failed: retried with it. */
class NotTriedError extends Error {
  constructor() {
    super('an earlier write of this user failed')
    this.name = 'NotTriedError'
  }
}

// Replies of a Redis that is not serving writes for now: loading, failing over, out of memory until
// eviction catches up, a script busy, a cluster resharding, credentials or ACLs an operator is fixing.
const UNAVAILABLE_REPLY =
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|OOM|MISCONF|NOAUTH|WRONGPASS|NOPERM|MOVED|ASK)\b|^ERR max number of clients/

// Thrown by JavaScript itself (e.g. JSON.stringify on a value it cannot serialise): a bug or an input
// the validation let through; the same event fails the same way every time.
const LANGUAGE_ERRORS = new Set([
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'URIError',
  'EvalError',
])

/**
 * Whether a failed write may succeed if tried again unchanged. Only unavailability is retried: the
 * connection is down or times out (ioredis's plain errors: "Connection is closed.", "Command timed
 * out", MaxRetriesPerRequestError, ClusterAllFailedError, ...) or Redis answers that it is not serving
 * for now. A reply about the data (WRONGTYPE, a script error) or a language error is permanent: the
 * event becomes a dead letter instead of stalling its partition — and through kafkajs's fetch loop,
 * every partition of the dispatcher.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLY.test(err.message)
  return !LANGUAGE_ERRORS.has(err.name)
}

function errorMessage(err: unknown): string | undefined {
  if (err === undefined) return undefined
  return err instanceof Error ? err.message : String(err)
}
