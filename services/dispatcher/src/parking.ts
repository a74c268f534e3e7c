// Records that cannot be delivered onto the dead-letter topic, in order, with their metrics and log
// lines; a record is done once its letter is stored (or skipped for good when even a bare one is
// refused). Used by the batch handler for bad records and for writes Redis refused for good.
import type { Logger } from '@tidings/runtime'
import type { KafkaMessage } from 'kafkajs'
import type { DeadLetter, DeadLetterSender } from './dead-letter.ts'
import type { DispatcherMetrics } from './metrics.ts'
import type { DeadLetterReason } from './reasons.ts'
import type { RecordTrace } from './tracing.ts'

/** A record on its way: only those whose work is a dead letter are sent. */
export interface Parkable {
  message: KafkaMessage
  work: { kind: 'deliver' } | { kind: 'dead-letter'; reason: DeadLetterReason; detail: string }
  done: boolean
  trace: RecordTrace
}

/** Sends dead letters in order; marks those stored; returns the error that stopped it, if any. */
export function createParker(deps: {
  sendDeadLetters: DeadLetterSender
  metrics: DispatcherMetrics
  logger: Logger
}): (jobs: Parkable[], topic: string, partition: number) => Promise<unknown> {
  const { metrics, logger } = deps
  return async function park(jobs: Parkable[], topic: string, partition: number): Promise<unknown> {
    const letters: Array<{ job: Parkable; letter: DeadLetter }> = []
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
}
