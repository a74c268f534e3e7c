// Bad events are parked on the dead-letter topic, byte for byte, with headers that say why and
// where they came from, so that they can be inspected, fixed and replayed. A letter the topic cannot
// take as it is (bigger than its max.message.bytes, a header kafkajs cannot write) is stored
// truncated, with headers saying so, rather than retried forever: retrying cannot make it fit.
import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs'
import { sendableHeaders } from './headers.ts'
import type { DeadLetterReason } from './reasons.ts'
import { isRecordRejected, splitForSend } from './record-limits.ts'

export const DLQ_HEADERS = {
  error: 'tidings-error',
  message: 'tidings-error-message',
  sourceTopic: 'tidings-source-topic',
  sourcePartition: 'tidings-source-partition',
  sourceOffset: 'tidings-source-offset',
  /** Names of original headers that had no value (null): Kafka allows them, kafkajs cannot send them. */
  droppedHeaders: 'tidings-dropped-headers',
  /** `value` or `value,headers`: what was cut so that the letter fits the dead-letter topic. */
  truncated: 'tidings-truncated',
  /** The original value's size when it was truncated. */
  originalValueBytes: 'tidings-original-value-bytes',
} as const

export interface DeadLetter {
  topic: string
  partition: number
  message: KafkaMessage
  reason: DeadLetterReason
  detail: string
}

// Header values stay readable in a console and small next to the event itself.
const MAX_DETAIL = 1000

/**
 * How much of a letter is kept: all of it; the value cut to its first TRUNCATED_VALUE_BYTES; that and
 * none of the original headers (only ours).
 */
export type LetterForm = 'whole' | 'truncated' | 'bare'

// Enough of a value to tell what it was; small enough for any sane max.message.bytes.
const TRUNCATED_VALUE_BYTES = 1024

/** The DLQ record: original key, value and headers, plus the tidings-* headers (string values). */
export function toDeadLetterRecord(dl: DeadLetter, form: LetterForm = 'whole'): Message {
  // The original headers are kept: a binary-mode CloudEvent lives in them, and without them a dead
  // letter could not be replayed as it was sent. Ours override same-named ones (a replayed letter).
  const original = sendableHeaders(dl.message.headers)
  const headers: IHeaders = form === 'bare' ? {} : original.headers
  headers[DLQ_HEADERS.error] = dl.reason
  headers[DLQ_HEADERS.message] =
    dl.detail.length > MAX_DETAIL ? `${dl.detail.slice(0, MAX_DETAIL - 3)}...` : dl.detail
  headers[DLQ_HEADERS.sourceTopic] = dl.topic
  headers[DLQ_HEADERS.sourcePartition] = String(dl.partition)
  headers[DLQ_HEADERS.sourceOffset] = dl.message.offset
  if (original.dropped.length > 0 && form !== 'bare')
    headers[DLQ_HEADERS.droppedHeaders] = original.dropped.join(',')
  let value = dl.message.value
  if (form !== 'whole') {
    headers[DLQ_HEADERS.truncated] = form === 'bare' ? 'value,headers' : 'value'
    headers[DLQ_HEADERS.originalValueBytes] = String(value?.length ?? 0)
    value = value === null ? null : value.subarray(0, TRUNCATED_VALUE_BYTES)
  }
  return { key: dl.message.key, value, headers }
}

export interface DeadLetterSendResult {
  /** How many of the first letters are stored (all of them unless `error` is set). */
  sent: number
  /** What stopped the sending: unavailability, to retry from letter `sent`. */
  error?: unknown
  /** Letters stored only in part, and how. */
  shortened: Array<{ index: number; form: Exclude<LetterForm, 'whole'> }>
  /** Letters that could not be stored in any form (the topic refuses even ~1 KiB): logged, skipped. */
  lost: number[]
}

export type DeadLetterSender = (letters: DeadLetter[]) => Promise<DeadLetterSendResult>

/**
 * Sends letters in order, acks from all in-sync replicas. A send the topic refuses for what the
 * records are is redone letter by letter, each shortened until it fits. Never rejects.
 * At least once: with a DLQ of several partitions the broker may have taken the other partitions'
 * part of a refused send, and those letters are stored again by the redo.
 */
export function createDeadLetterSender(producer: Producer, topic: string): DeadLetterSender {
  const send = (messages: Message[]) => producer.send({ topic, acks: -1, messages })

  return async (letters) => {
    const result: DeadLetterSendResult = { sent: 0, shortened: [], lost: [] }
    const records = letters.map((l) => toDeadLetterRecord(l))
    for (const chunk of splitForSend(records)) {
      try {
        await send(chunk)
        result.sent += chunk.length
        continue
      } catch (error) {
        if (!isRecordRejected(error)) return { ...result, error }
      }
      // One of them does not fit or cannot be encoded: find it, one letter at a time.
      for (let i = 0; i < chunk.length; i++) {
        const index = result.sent
        const outcome = await sendShortening(send, letters[index] as DeadLetter)
        if (outcome.error !== undefined) return { ...result, error: outcome.error }
        if (outcome.form === 'lost') result.lost.push(index)
        else if (outcome.form !== 'whole') result.shortened.push({ index, form: outcome.form })
        result.sent++
      }
    }
    return result
  }
}

async function sendShortening(
  send: (messages: Message[]) => Promise<unknown>,
  letter: DeadLetter,
): Promise<{ form: LetterForm | 'lost'; error?: unknown }> {
  for (const form of ['whole', 'truncated', 'bare'] as const) {
    try {
      await send([toDeadLetterRecord(letter, form)])
      return { form }
    } catch (error) {
      // A bare letter is our own string headers, the key and 1 KiB: kafkajs failing to encode that
      // is a kafkajs fault, not the record's — retried rather than skipped.
      if (!isRecordRejected(error, { encoding: form !== 'bare' })) return { form, error }
    }
  }
  return { form: 'lost' }
}
