// Bad events are parked on the dead-letter topic, byte for byte, with headers that say why and
// where they came from, so that they can be inspected, fixed and replayed.
import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs'
import type { DeadLetterReason } from './reasons.ts'

export const DLQ_HEADERS = {
  error: 'tidings-error',
  message: 'tidings-error-message',
  sourceTopic: 'tidings-source-topic',
  sourcePartition: 'tidings-source-partition',
  sourceOffset: 'tidings-source-offset',
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

/** The DLQ record: original key, value and headers, plus the tidings-* headers (string values). */
export function toDeadLetterRecord(dl: DeadLetter): Message {
  // The original headers are kept: a binary-mode CloudEvent lives in them, and without them a dead
  // letter could not be replayed as it was sent. Ours override same-named ones (a replayed letter).
  const headers: IHeaders = { ...dl.message.headers }
  headers[DLQ_HEADERS.error] = dl.reason
  headers[DLQ_HEADERS.message] =
    dl.detail.length > MAX_DETAIL ? `${dl.detail.slice(0, MAX_DETAIL - 3)}...` : dl.detail
  headers[DLQ_HEADERS.sourceTopic] = dl.topic
  headers[DLQ_HEADERS.sourcePartition] = String(dl.partition)
  headers[DLQ_HEADERS.sourceOffset] = dl.message.offset
  return { key: dl.message.key, value: dl.message.value, headers }
}

// kafkajs puts every message of one send to one partition into one record batch, and the broker
// refuses a batch over the topic's max.message.bytes (1 MiB by default). A burst of poison events
// must not build such a batch, or the DLQ produce would fail forever; so sends are split.
const MAX_SEND_BYTES = 512 * 1024

function approximateSize(m: Message): number {
  let size = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0)
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    for (const part of Array.isArray(v) ? v : [v]) size += k.length + (part?.length ?? 0)
  }
  return size
}

/** Splits records into sends of at most MAX_SEND_BYTES (a bigger record travels alone). */
export function splitForSend(records: Message[]): Message[][] {
  const sends: Message[][] = []
  let current: Message[] = []
  let bytes = 0
  for (const r of records) {
    const size = approximateSize(r)
    if (current.length > 0 && bytes + size > MAX_SEND_BYTES) {
      sends.push(current)
      current = []
      bytes = 0
    }
    current.push(r)
    bytes += size
  }
  if (current.length > 0) sends.push(current)
  return sends
}

export type DeadLetterSender = (letters: DeadLetter[]) => Promise<{ sent: number; error?: unknown }>

/**
 * Sends letters in order, acks from all in-sync replicas; resolves with how many of the first
 * letters are safely stored (all of them unless `error` is set). Never rejects.
 */
export function createDeadLetterSender(producer: Producer, topic: string): DeadLetterSender {
  return async (letters) => {
    let sent = 0
    for (const chunk of splitForSend(letters.map(toDeadLetterRecord))) {
      try {
        await producer.send({ topic, acks: -1, messages: chunk })
      } catch (error) {
        return { sent, error }
      }
      sent += chunk.length
    }
    return { sent }
  }
}
