// What a topic refuses for the record itself (sending it again cannot help), and sends split so that
// no record batch reaches a topic's max.message.bytes: shared by the dead-letter and push producers.
import type { Message } from 'kafkajs'

/**
 * A produce error about the record itself, which sending it again cannot fix: too large for the
 * topic, refused by the broker's validation, or a value kafkajs cannot encode. Everything else
 * (a broker down, a leader moving, a timeout, missing ACLs) is unavailability and retried.
 */
export function isRecordRejected(err: unknown, opts: { encoding: boolean } = { encoding: true }): boolean {
  // kafkajs wraps the broker's error (KafkaJSNonRetriableError → KafkaJSProtocolError)
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'KafkaJSNumberOfRetriesExceeded') return false
    if (opts.encoding && (e.name === 'TypeError' || e.name === 'RangeError')) return true
    const type = (e as { type?: unknown }).type
    if (typeof type === 'string' && RECORD_REJECTED.has(type)) return true
  }
  return false
}

const RECORD_REJECTED = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD'])

// kafkajs puts every message of one send to one partition into one record batch, and the broker
// refuses a batch over the topic's max.message.bytes (1 MiB by default). A burst of poison events, or
// a user's many push requests, must not build such a batch, or the produce would fail forever; so
// sends are split.
const MAX_SEND_BYTES = 512 * 1024

// in bytes: a string's length counts UTF-16 units, a third of the bytes of Bengali text
const bytes = (v: Buffer | string | null | undefined): number =>
  v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length

function approximateSize(m: Message): number {
  let size = 64 + bytes(m.key) + bytes(m.value)
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    for (const part of Array.isArray(v) ? v : [v]) size += bytes(k) + bytes(part)
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
