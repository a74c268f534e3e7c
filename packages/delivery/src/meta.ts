// What travels with a notification inside Redis and never reaches an app: the Kafka timestamp of
// the event (so the gateway can tell its age at the socket write) and the W3C trace context of the
// dispatcher span that wrote it (so the gateway's deliver and ack spans join the event's trace).
//
// Stored as an optional first line of the inbox entry / pub/sub message: `@<ms>;<traceparent>\n`
// then the frame. A frame is JSON text, which never starts with `@` and never holds a raw newline,
// so an entry without the line (written before this existed) reads as before. The gateway strips
// the line before a frame leaves the pod; only packages/delivery knows the layout.

/** Never sent to apps. */
export interface DeliveryMeta {
  /** The Kafka record's timestamp (ms since the epoch): where an event's age starts. */
  producedAt?: number
  /** W3C `traceparent` (`00-<trace id>-<span id>-<flags>`) the deliver/ack spans continue. */
  traceparent?: string
}

const AT = 0x40
const NEWLINE = 0x0a
// version 00..fe (ff is forbidden), non-zero ids; lowercase hex only (W3C Trace Context §3.2)
const TRACEPARENT = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/

/** Whether `value` is a well-formed W3C traceparent (the only kind ever stored). */
export function isTraceparent(value: string): boolean {
  return value.length === 55 && TRACEPARENT.test(value)
}

/** `@<ms>;<traceparent>\n`, or '' when there is nothing to carry. Bad values are left out. */
export function encodeMeta(meta: DeliveryMeta | undefined): string {
  if (!meta) return ''
  const ts =
    meta.producedAt !== undefined && Number.isSafeInteger(meta.producedAt) && meta.producedAt >= 0
      ? String(meta.producedAt)
      : ''
  const tp = meta.traceparent !== undefined && isTraceparent(meta.traceparent) ? meta.traceparent : ''
  return ts === '' && tp === '' ? '' : `@${ts};${tp}\n`
}

function parseMetaLine(line: string): DeliveryMeta | undefined {
  const semi = line.indexOf(';')
  if (semi < 0) return undefined
  const meta: DeliveryMeta = {}
  const ts = line.slice(0, semi)
  if (ts !== '' && /^\d{1,16}$/.test(ts)) meta.producedAt = Number(ts)
  const tp = line.slice(semi + 1)
  if (isTraceparent(tp)) meta.traceparent = tp
  return meta
}

/** An inbox entry → its frame (what apps get) and its meta. */
export function splitEntry(entry: string): { frame: string; meta: DeliveryMeta | undefined } {
  if (entry.charCodeAt(0) !== AT) return { frame: entry, meta: undefined }
  const nl = entry.indexOf('\n')
  if (nl < 0) return { frame: entry, meta: undefined }
  return { frame: entry.slice(nl + 1), meta: parseMetaLine(entry.slice(1, nl)) }
}

/** The same for a pub/sub message (a Buffer); the frame is a view, not a copy. */
export function splitMessage(message: Buffer): { frame: Buffer; meta: DeliveryMeta | undefined } {
  if (message[0] !== AT) return { frame: message, meta: undefined }
  const nl = message.indexOf(NEWLINE)
  if (nl < 0) return { frame: message, meta: undefined }
  return { frame: message.subarray(nl + 1), meta: parseMetaLine(message.toString('latin1', 1, nl)) }
}
