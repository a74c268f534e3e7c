// Kafka record headers as they really arrive. The protocol allows a header without a value and the
// same name more than once, and values are bytes. kafkajs hands these over as `null`, arrays and
// Buffers — and throws when asked to send a `null` back (an open kafkajs bug) — so every header the
// dispatcher reads or copies goes through here.
import type { IHeaders } from 'kafkajs'

/** What kafkajs really gives for one header name: its typings omit `null`. */
type RawHeaderValue = Buffer | string | null | undefined | Array<Buffer | string | null | undefined>

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A header value read as text; `invalid` when its bytes are not UTF-8. */
export type HeaderText = { ok: true; text: string } | { ok: false; invalid: true }

/**
 * The headers by lower-cased name (CloudEvents and HTTP habits are case-insensitive; Kafka's are
 * not), each the first non-null value sent under that name. A repeated attribute is a producer bug;
 * taking the first keeps the outcome deterministic. Headers without a value count as absent.
 */
export function readHeaders(headers: IHeaders | undefined): ReadonlyMap<string, HeaderText> {
  // most records have no headers: no Map for them (each record is read twice, by decode and tracing)
  let out: Map<string, HeaderText> | undefined
  if (!headers) return NO_HEADERS
  for (const [name, raw] of Object.entries(headers as Record<string, RawHeaderValue>)) {
    const key = name.toLowerCase()
    if (out?.has(key)) continue
    const first = firstValue(raw)
    if (first === undefined) continue
    out ??= new Map()
    out.set(key, toText(first))
  }
  return out ?? NO_HEADERS
}

const NO_HEADERS: ReadonlyMap<string, HeaderText> = new Map()

// A header value kafkajs can have decoded: bytes, or a string. kafkajs's decoder builds headers in a
// plain object and checks `obj[name] === undefined`, so a header named `constructor` or `toString`
// arrives as [<the inherited function>, Buffer]: anything else is not a value.
const isValue = (v: unknown): v is Buffer | string => typeof v === 'string' || Buffer.isBuffer(v)

function firstValue(raw: RawHeaderValue): Buffer | string | undefined {
  for (const v of Array.isArray(raw) ? raw : [raw]) if (isValue(v)) return v
  return undefined
}

function toText(v: Buffer | string): HeaderText {
  if (typeof v === 'string') return { ok: true, text: v }
  try {
    return { ok: true, text: utf8.decode(v) }
  } catch {
    return { ok: false, invalid: true }
  }
}

/**
 * The headers in a form kafkajs can send: null values (Kafka would keep them, kafkajs cannot write
 * them) and kafkajs artefacts dropped, repeated names kept as arrays, bytes kept as bytes. `dropped`
 * names the headers that had a value-less (null) entry.
 */
export function sendableHeaders(headers: IHeaders | undefined): { headers: IHeaders; dropped: string[] } {
  // no prototype: a header named `__proto__` is a header, not a way to replace the object's prototype
  const out: IHeaders = Object.create(null) as IHeaders
  const dropped: string[] = []
  for (const [name, raw] of Object.entries((headers ?? {}) as Record<string, RawHeaderValue>)) {
    const all = Array.isArray(raw) ? raw : [raw]
    const values = all.filter(isValue)
    if (all.some((v) => v === null || v === undefined)) dropped.push(name)
    if (values.length === 1) out[name] = values[0]
    else if (values.length > 1) out[name] = values
  }
  return { headers: out, dropped }
}
