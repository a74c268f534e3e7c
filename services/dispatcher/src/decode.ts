// From a Kafka record to a validated event, or to the reason it must be dead-lettered.
//
// Three encodings are accepted on both topics (docs/protocol.md §2.4):
//  - plain JSON: the value is the event object;
//  - CloudEvents 1.0 structured mode: `content-type: application/cloudevents+json`, or a JSON value
//    that carries `specversion`; the event object is the envelope's `data` (or `data_base64`);
//  - CloudEvents 1.0 binary mode: `ce_specversion`, `ce_id`, `ce_source`, `ce_type` headers and the
//    value is the event object.
// In both CloudEvents modes `type` must be the topic's type, the CloudEvents `id` is the event id
// when the data has none, and (an addition the protocol leaves open) the CloudEvents `time` is the
// occurredAt when the data has none; one of the two is required (the Kafka timestamp is when the
// record was written, not when the business event happened). `id` and `time` follow the rules of
// eventId and occurredAt whether or not the data overrides them, as docs/asyncapi.yaml states.
import {
  CLOUDEVENT_TYPES,
  EVENT_ID_MAX_LENGTH,
  type LoanDecisionEvent,
  type NotificationRequestedEvent,
  timestampProblem,
  validateLoanDecision,
  validateNotificationRequested,
} from '@tidings/contracts'
import type { IHeaders } from 'kafkajs'
import { readHeaders } from './headers.ts'
import { type Result, reject } from './reasons.ts'

export type EventType = (typeof CLOUDEVENT_TYPES)[keyof typeof CLOUDEVENT_TYPES]

export type Encoding = 'json' | 'cloudevents-structured' | 'cloudevents-binary'

export type DecodedEvent =
  | { type: typeof CLOUDEVENT_TYPES.loanDecision; encoding: Encoding; event: LoanDecisionEvent }
  | {
      type: typeof CLOUDEVENT_TYPES.notificationRequested
      encoding: Encoding
      event: NotificationRequestedEvent
    }

export type DecodeResult = Result<DecodedEvent>

/** The parts of a Kafka record the decoder looks at (a kafkajs KafkaMessage fits). */
export interface RecordInput {
  value: Buffer | null
  headers?: IHeaders | undefined
}

const STRUCTURED = /^application\/cloudevents\+json\s*(;|$)/i
const CLOUDEVENTS_ANY = /^application\/cloudevents/i
// `application/json`, `text/json`, `application/vnd.x+json`, with or without parameters
const JSON_CONTENT = /^[a-z]+\/([a-z0-9.+-]+\+)?json\s*(;|$)/i

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes one record of a topic that carries `expected` events. Never throws for bad input: every
 * problem is a Rejection whose message says what is wrong, for the DLQ headers.
 */
export function decodeEvent(record: RecordInput, expected: EventType, maxBytes: number): DecodeResult {
  const value = record.value
  if (value === null || value.length === 0) return reject('invalid_json', 'the value is empty')
  if (value.length > maxBytes) {
    return reject('too_large', `the value has ${value.length} bytes, more than the limit of ${maxBytes}`)
  }
  const read = lowerCaseHeaders(record.headers)
  if (!read.ok) return read
  const headers = read.value
  const contentType = headers.get('content-type')

  if (contentType !== undefined && STRUCTURED.test(contentType)) {
    return fromStructured(value, expected)
  }
  if (contentType !== undefined && CLOUDEVENTS_ANY.test(contentType)) {
    return reject('invalid_cloudevent', `content-type ${contentType} is not supported (batch mode is not)`)
  }
  if (headers.has('ce_specversion')) return fromBinary(value, headers, contentType, expected)

  const parsed = parseJson(value)
  if (!parsed.ok) return parsed
  // A JSON value with `specversion` is a structured CloudEvent whose producer did not set the header.
  if (isObject(parsed.value) && 'specversion' in parsed.value) return fromEnvelope(parsed.value, expected)
  return validate(parsed.value, expected, 'json')
}

function fromStructured(value: Buffer, expected: EventType): DecodeResult {
  const parsed = parseJson(value)
  if (!parsed.ok) return parsed
  if (!isObject(parsed.value))
    return reject('invalid_cloudevent', 'a structured CloudEvent must be a JSON object')
  return fromEnvelope(parsed.value, expected)
}

function fromEnvelope(envelope: Record<string, unknown>, expected: EventType): DecodeResult {
  const attrs = checkAttributes(
    {
      specversion: envelope.specversion,
      id: envelope.id,
      source: envelope.source,
      type: envelope.type,
      time: envelope.time,
      datacontenttype: envelope.datacontenttype,
    },
    expected,
    '',
  )
  if (!attrs.ok) return attrs

  let data: unknown
  if ('data_base64' in envelope && envelope.data_base64 !== undefined) {
    if ('data' in envelope) return reject('invalid_cloudevent', 'data and data_base64 are mutually exclusive')
    if (typeof envelope.data_base64 !== 'string')
      return reject('invalid_cloudevent', 'data_base64 must be a string')
    const parsed = parseJson(Buffer.from(envelope.data_base64, 'base64'))
    if (!parsed.ok) return reject('invalid_json', `data_base64: ${parsed.message}`)
    data = parsed.value
  } else if ('data' in envelope) {
    data = envelope.data
  } else {
    return reject('invalid_schema', 'the CloudEvent has no data')
  }
  return withAttributes(data, attrs.value, expected, 'cloudevents-structured')
}

function fromBinary(
  value: Buffer,
  headers: ReadonlyMap<string, string>,
  contentType: string | undefined,
  expected: EventType,
): DecodeResult {
  const attrs = checkAttributes(
    {
      specversion: headers.get('ce_specversion'),
      id: headers.get('ce_id'),
      source: headers.get('ce_source'),
      type: headers.get('ce_type'),
      time: headers.get('ce_time'),
      // in binary mode the record's content-type is the data's content type
      datacontenttype: contentType,
    },
    expected,
    'ce_',
  )
  if (!attrs.ok) return attrs
  const parsed = parseJson(value)
  if (!parsed.ok) return parsed
  return withAttributes(parsed.value, attrs.value, expected, 'cloudevents-binary')
}

interface Attributes {
  id: string
  time: string | undefined
  /** How the attributes are named as sent: 'ce_' in binary mode. */
  prefix: string
}

/** The CloudEvents 1.0 context attributes the dispatcher relies on. `prefix` names them as sent. */
function checkAttributes(
  a: Record<'specversion' | 'id' | 'source' | 'type' | 'time' | 'datacontenttype', unknown>,
  expected: EventType,
  prefix: string,
): Result<Attributes> {
  if (a.specversion !== '1.0') {
    return reject('invalid_cloudevent', `${prefix}specversion must be "1.0", got ${describe(a.specversion)}`)
  }
  for (const name of ['id', 'source', 'type'] as const) {
    const v = a[name]
    if (typeof v !== 'string' || v.length === 0) {
      return reject('invalid_cloudevent', `${prefix}${name} is required (a non-empty string)`)
    }
  }
  if (a.type !== expected) {
    return reject('unexpected_type', `type ${describe(a.type)} is not accepted here, expected "${expected}"`)
  }
  if (a.time !== undefined && typeof a.time !== 'string') {
    return reject('invalid_cloudevent', `${prefix}time must be a string`)
  }
  // valid CloudEvents, but not a valid eventId / occurredAt: the schema's rules (docs/asyncapi.yaml)
  if ((a.id as string).length > EVENT_ID_MAX_LENGTH) {
    return reject(
      'invalid_schema',
      `${expected}: ${prefix}id: has ${(a.id as string).length} characters, more than ${EVENT_ID_MAX_LENGTH} (it is the event id)`,
    )
  }
  const timeProblem = a.time === undefined ? undefined : timestampProblem(a.time)
  if (timeProblem) {
    return reject('invalid_schema', `${expected}: ${prefix}time: not a real date and time: ${timeProblem}`)
  }
  if (a.datacontenttype !== undefined) {
    if (typeof a.datacontenttype !== 'string' || !JSON_CONTENT.test(a.datacontenttype)) {
      return reject('invalid_cloudevent', `datacontenttype ${describe(a.datacontenttype)} is not JSON`)
    }
  }
  return { ok: true, value: { id: a.id as string, time: a.time, prefix } }
}

/** Fills the event id (and occurredAt) from the envelope when the data has none, then validates. */
function withAttributes(
  data: unknown,
  attrs: Attributes,
  expected: EventType,
  encoding: Encoding,
): DecodeResult {
  if (!isObject(data)) return reject('invalid_schema', '/data: must be a JSON object')
  const merged: Record<string, unknown> = { ...data }
  if (merged.eventId === undefined || merged.eventId === null) merged.eventId = attrs.id
  if (merged.occurredAt === undefined || merged.occurredAt === null) {
    if (attrs.time === undefined) {
      return reject(
        'invalid_schema',
        `${expected}: /occurredAt: Expected required property (in the data, or the CloudEvents ${attrs.prefix}time)`,
      )
    }
    merged.occurredAt = attrs.time
  }
  return validate(merged, expected, encoding)
}

function validate(data: unknown, expected: EventType, encoding: Encoding): DecodeResult {
  if (expected === CLOUDEVENT_TYPES.loanDecision) {
    const res = validateLoanDecision(data)
    if (!res.ok) return reject('invalid_schema', `${expected}: ${res.message}`)
    return { ok: true, value: { type: expected, encoding, event: res.value } }
  }
  // both validators also refuse an occurredAt that is no real instant (2026-02-30, a UTC year > 9999)
  const res = validateNotificationRequested(data)
  if (!res.ok) return reject('invalid_schema', `${expected}: ${res.message}`)
  return { ok: true, value: { type: expected, encoding, event: res.value } }
}

function parseJson(value: Buffer): Result<unknown> {
  let text: string
  try {
    text = utf8.decode(value)
  } catch {
    return reject('invalid_json', 'the value is not valid UTF-8')
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch (err) {
    return reject('invalid_json', `the value is not JSON: ${(err as Error).message}`)
  }
}

/**
 * The headers the decoder reads, by lower-cased name, as text. Headers without a value count as
 * absent; one that matters here (content-type, ce_*) but is not UTF-8 makes the event invalid.
 */
function lowerCaseHeaders(headers: IHeaders | undefined): Result<ReadonlyMap<string, string>> {
  const read = readHeaders(headers)
  if (read.size === 0) return NO_HEADERS
  const out = new Map<string, string>()
  for (const [name, value] of read) {
    if (value.ok) out.set(name, value.text)
    else if (name === 'content-type' || name.startsWith('ce_')) {
      return reject('invalid_cloudevent', `header ${name} is not UTF-8`)
    }
  }
  return { ok: true, value: out }
}

const NO_HEADERS: Result<ReadonlyMap<string, string>> = { ok: true, value: new Map() }

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function describe(v: unknown): string {
  if (v === undefined) return 'nothing'
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
