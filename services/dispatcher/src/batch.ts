// One Kafka batch (records of one partition, in offset order) → notifications in Redis and bad
// events on the dead-letter topic, with the offset rule that makes delivery at-least-once:
//
//   an offset is resolved (and so may be committed) only when it and every record before it in the
//   partition is either written to Redis or stored on the dead-letter topic.
//
// Redis or the DLQ failing never skips a record: the handler backs off and retries the rest of the
// batch from the first unsafe record, heartbeating meanwhile (through backoffs, too), until it
// succeeds, the consumer stops, or a rebalance takes the partition away (kafkajs then commits only
// what was resolved). A record
// retried after a write that did happen is recognised by the store's dedupe and not written twice.
// The batch is written as a pipeline of calls, each with many users' notifications, several in
// flight; a user's order holds because no event of a user leaves while an earlier one is in flight.
import type { InboxWriter } from '@tidings/delivery'
import { type Logger, redisErrorKind } from '@tidings/runtime'
import type { EachBatchPayload, KafkaMessage } from 'kafkajs'
import { type BackoffOptions, backoffDelay, pauseHeartbeating } from './backoff.ts'
import { createCallWriter, type Write, type WriteOutcome } from './calls.ts'
import type { DeadLetterSender } from './dead-letter.ts'
import { decodeEvent, type EventType } from './decode.ts'
import { errorMessage, isRedisUnavailable, NotTriedError } from './failures.ts'
import { type Delivery, toDelivery } from './map.ts'
import { type DispatcherMetrics, kafkaErrorKind } from './metrics.ts'
import { createParker } from './parking.ts'
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
  /** The consumer's heartbeat interval: a backoff heartbeats this often. Default 3000 (kafkajs's). */
  heartbeatIntervalMs?: number
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
  /** Position in the batch. */
  index: number
  work: Work
  /** Whose order the job keeps (orderKey); '' for a record that is a dead letter from the start. */
  key: string
  done: boolean
  /** In a call (or a dead-letter send) that has not settled yet. */
  sending: boolean
  trace: RecordTrace
}

// Records per call (one script call to Redis, or one dead-letter send), and calls a partition keeps
// in flight. Several calls in flight keep Redis busy while the dispatcher settles one and prepares the
// next; each call carries many notifications, so the per-call costs (a round trip, a command, a
// promise) are shared. A user whose event is in a call that has not settled waits for it: a later
// event of theirs must never be written while an earlier one may still fail and be retried.
const CALL_SIZE = 100
const CALLS_IN_FLIGHT = 4

// the rule, with the handler that applies it
export { isRedisUnavailable } from './failures.ts'

export type BatchHandler = (payload: EachBatchPayload) => Promise<void>

/** Whose order a delivery keeps: a user's inbox, or a broadcast topic's. */
const orderKey = (d: Delivery): string => (d.target === 'user' ? `u:${d.userId}` : `t:${d.topic}`)

interface Errors {
  redis?: unknown
  dlq?: unknown
}

/** One batch (a partition's records of one fetch) on its way to Redis and the dead-letter topic. */
interface Run {
  payload: EachBatchPayload
  jobs: Job[]
  /** Prepares records until `n` jobs exist (or the batch ends). */
  prepareUpTo(n: number): void
  /** Jobs before this index are done and their last offset resolved. */
  next: number
  /** Jobs before this index are done or in flight: where the search for the next call starts. */
  unsent: number
}

export function createBatchHandler(deps: BatchHandlerDeps): BatchHandler {
  const { metrics, logger, store } = deps
  const tracer = deps.tracer ?? createRecordTracer(false, metrics.eventAge)
  const park = createParker(deps)
  const writer = createCallWriter({ store, metrics, ...(deps.push ? { push: deps.push } : {}) })
  const toWrite = (job: Job): Write => ({
    delivery: (job.work as { delivery: Delivery }).delivery,
    trace: job.trace,
  })

  /** Decodes and maps one record; never throws (a failure here is a dead letter, not a stall). */
  function prepare(message: KafkaMessage, index: number, topic: string, trace: RecordTrace): Job {
    const deadLetter = (reason: DeadLetterReason, detail: string): Job => ({
      message,
      index,
      work: { kind: 'dead-letter', reason, detail },
      key: '',
      done: false,
      sending: false,
      trace,
    })
    try {
      const type = deps.topicTypes.get(topic)
      if (!type) return deadLetter('internal_error', `topic ${topic} is not an input topic`)
      const decoded = decodeEvent(message, type, deps.maxEventBytes)
      if (!decoded.ok) return deadLetter(decoded.reason, decoded.message)
      const mapped = toDelivery(decoded.value, topic)
      if (!mapped.ok) return deadLetter(mapped.reason, mapped.message)
      return {
        message,
        index,
        work: { kind: 'deliver', delivery: mapped.value },
        key: orderKey(mapped.value),
        done: false,
        sending: false,
        trace,
      }
    } catch (err) {
      logger.error({ err, topic, offset: message.offset }, 'failed to prepare an event')
      return deadLetter('internal_error', errorMessage(err) ?? 'unknown error')
    }
  }

  /**
   * Settles one call: marks what was stored done, turns what was refused for good into dead letters,
   * puts back what must be tried again. Returns whether Redis was unavailable (the run must stop).
   */
  async function runCall(writes: Job[], letters: Job[], run: Run, errors: Errors): Promise<boolean> {
    const { topic, partition } = run.payload.batch
    const users: Job[] = []
    const topics: Job[] = []
    for (const job of writes) {
      if ((job.work as { delivery: Delivery }).delivery.target === 'user') users.push(job)
      else topics.push(job)
    }
    const [userOutcomes, topicOutcomes, dlqError] = await Promise.all([
      users.length > 0 ? writer.deliverUsers(users.map(toWrite)) : [],
      topics.length > 0 ? writer.publishTopics(topics.map(toWrite)) : [],
      park(letters, topic, partition),
    ])
    if (dlqError !== undefined) errors.dlq ??= dlqError

    let unavailable = false
    const refused: Job[] = []
    // counted per call: a labelled counter's inc costs a label lookup
    const counts = { delivered: { user: 0, topic: 0 }, duplicate: { user: 0, topic: 0 } }
    const settleOne = (job: Job, r: WriteOutcome) => {
      const delivery = (job.work as { delivery: Delivery }).delivery
      if (r.ok) {
        job.done = true
        job.trace.end(r.value)
        counts[r.value][delivery.target]++
      } else if (isRedisUnavailable(r.reason)) {
        // a write held back behind its user's failed one is no failure of its own
        if (!(r.reason instanceof NotTriedError)) {
          errors.redis ??= r.reason
          unavailable = true
        }
      } else {
        // Retrying would fail the same way forever and stall the partition: park it instead.
        const reason =
          r.reason instanceof Error && r.reason.name === 'ReplyError' ? 'store_rejected' : 'internal_error'
        if (reason === 'internal_error')
          logger.error({ err: r.reason, topic, partition }, 'failed to store an event')
        job.work = { kind: 'dead-letter', reason, detail: errorMessage(r.reason) ?? '' }
        refused.push(job)
      }
    }
    for (const [i, job] of users.entries()) settleOne(job, userOutcomes[i]!)
    for (const [i, job] of topics.entries()) settleOne(job, topicOutcomes[i]!)
    for (const target of ['user', 'topic'] as const) {
      if (counts.delivered[target] > 0)
        metrics.notificationsDelivered.inc({ target }, counts.delivered[target])
      if (counts.duplicate[target] > 0) metrics.duplicates.inc({ target }, counts.duplicate[target])
    }
    if (refused.length > 0) {
      const err = await park(refused, topic, partition)
      if (err !== undefined) errors.dlq ??= err
    }
    for (const list of [writes, letters]) {
      for (const job of list) {
        job.sending = false
        if (!job.done && job.index < run.unsent) run.unsent = job.index
      }
    }
    resolveDone(run)
    return unavailable
  }

  /** Resolves the offset of the last job of the done prefix, when it grew. */
  function resolveDone(run: Run): void {
    let k = run.next
    while (k < run.jobs.length && run.jobs[k]!.done) k++
    if (k > run.next) {
      run.payload.resolveOffset(run.jobs[k - 1]!.message.offset)
      run.next = k
    }
  }

  /**
   * The next call: up to CALL_SIZE jobs in offset order that are neither done nor in flight, skipping
   * every job whose user (or topic) has a job in a call in flight. Dead letters go with it.
   */
  function takeCall(
    run: Run,
    busy: Map<string, number>,
    lettersHeld: boolean,
  ): { writes: Job[]; letters: Job[] } | undefined {
    const writes: Job[] = []
    const letters: Job[] = []
    const total = run.payload.batch.messages.length
    const { jobs } = run
    while (run.unsent < jobs.length && (jobs[run.unsent]!.done || jobs[run.unsent]!.sending)) run.unsent++
    for (let i = run.unsent; writes.length + letters.length < CALL_SIZE; i++) {
      if (i >= run.jobs.length) {
        if (run.jobs.length >= total) break
        run.prepareUpTo(run.jobs.length + CALL_SIZE)
      }
      const job = run.jobs[i]!
      if (job.done || job.sending) continue
      if (job.work.kind === 'dead-letter') {
        if (!lettersHeld) letters.push(job)
        continue
      }
      if (busy.has(job.key)) continue
      writes.push(job)
    }
    if (writes.length + letters.length === 0) return undefined
    for (const job of writes) job.sending = true
    for (const job of letters) job.sending = true
    return { writes, letters }
  }

  /**
   * One try at every job not yet done, CALLS_IN_FLIGHT calls at a time, until all are done or
   * Redis is unavailable (no new call after that; those in flight settle). Returns the errors, and
   * whether the partition must be let go of.
   */
  async function attempt(run: Run): Promise<{ errors: Errors; letGo: boolean }> {
    const errors: Errors = {}
    run.unsent = run.next
    const busy = new Map<string, number>()
    const inFlight = new Set<Promise<void>>()
    let stop = false
    let letGo = false
    let thrown: { error: unknown } | undefined
    for (;;) {
      while (!stop && inFlight.size < CALLS_IN_FLIGHT) {
        if (mustLetGo(run.payload)) {
          letGo = stop = true
          break
        }
        // a dead-letter topic that failed in this try is tried again after the backoff, not at once
        const call = takeCall(run, busy, errors.dlq !== undefined)
        if (!call) break
        const keys = call.writes.map((j) => j.key)
        for (const key of keys) busy.set(key, (busy.get(key) ?? 0) + 1)
        const settled: Promise<void> = runCall(call.writes, call.letters, run, errors)
          .then(
            (unavailable) => {
              if (unavailable) stop = true
            },
            (error: unknown) => {
              thrown ??= { error }
              stop = true
            },
          )
          .finally(() => {
            for (const key of keys) {
              const n = busy.get(key)! - 1
              if (n === 0) busy.delete(key)
              else busy.set(key, n)
            }
            inFlight.delete(settled)
          })
        inFlight.add(settled)
      }
      if (inFlight.size === 0) break
      await Promise.race(inFlight)
      if (stop) continue
      try {
        // both do nothing until their interval is due; a rebalance surfaces here as a thrown error
        await run.payload.commitOffsetsIfNecessary()
        await run.payload.heartbeat()
      } catch (error) {
        thrown ??= { error }
        stop = true
      }
    }
    if (thrown) throw thrown.error
    return { errors, letGo }
  }

  /**
   * Settles the batch: tries until every job is done (→ true) or the consumer must let go of the
   * partition (→ false), backing off between tries that leave something undone.
   */
  async function settle(run: Run): Promise<boolean> {
    const { topic, partition, messages } = run.payload.batch
    let failures = 0 // consecutive tries without progress: drives the backoff
    let retrying = false
    let attempts = 0
    try {
      for (;;) {
        attempts++
        const before = run.next
        const { errors, letGo } = await attempt(run)
        if (run.next === messages.length) {
          if (retrying) logger.info({ topic, partition, attempts }, 'events stored again after retrying')
          return true
        }
        if (letGo) return false
        failures = run.next > before ? 1 : failures + 1
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
            offset: messages[run.next]!.offset,
            failures,
            delayMs,
            redisError: errorMessage(errors.redis),
            dlqError: errorMessage(errors.dlq),
          },
          'could not store events; retrying from the first unstored one',
        )
        // A rebalance surfaces here as a thrown error: kafkajs commits what is resolved and rejoins.
        await run.payload.heartbeat()
        if (mustLetGo(run.payload)) return false
        await pauseHeartbeating(
          delayMs,
          deps.stopping,
          deps.heartbeatIntervalMs ?? 3000,
          () => run.payload.heartbeat(),
          () => mustLetGo(run.payload),
        )
        if (mustLetGo(run.payload)) return false
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
    const jobs: Job[] = []
    const run: Run = {
      payload,
      jobs,
      next: 0,
      unsent: 0,
      // records are decoded as the calls reach them: the first call leaves before the batch is parsed
      prepareUpTo(n) {
        const end = Math.min(n, batch.messages.length)
        for (let i = jobs.length; i < end; i++) {
          const m = batch.messages[i]!
          jobs.push(prepare(m, i, batch.topic, tracer.start(m, batch.topic, batch.partition)))
        }
      },
    }
    try {
      if (!(await settle(run))) return
      await payload.commitOffsetsIfNecessary()
      await payload.heartbeat()
    } finally {
      // records of a partition let go of are redelivered (to this or another member): new spans
      for (const job of jobs) if (!job.done) job.trace.end('released')
      endTimer()
    }
  }
}
