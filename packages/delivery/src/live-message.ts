// What travels on a user's channel: `<epoch>\n[<meta line>\n]<notification frame JSON>`. The epoch
// rides along so a gateway can tell a new life of the user's sequence from a duplicate; the frame
// is sent to sockets byte for byte, so a pod decodes each message once, never per socket. The meta
// line (meta.ts) is for the gateway only.
import { type DeliveryMeta, splitMessage } from './meta.ts'

const NEWLINE = 0x0a
const COMMA = 0x2c
/** Every notification frame starts with exactly this, then its seq and a comma (scripts.ts builds them). */
export const NOTIFICATION_FRAME_PREFIX = '{"type":"notification","seq":'
const SEQ_PREFIX = Buffer.from(NOTIFICATION_FRAME_PREFIX)

export interface LiveNotification {
  epoch: string
  seq: number
  /** The notification frame, ready for `ws.send(frame, { binary: false })`. */
  frame: Buffer
  /** Kafka timestamp and trace context: never sent to the app. */
  meta: DeliveryMeta | undefined
  /**
   * Set on a revocation message instead of a notification (`!revoked\n<ms>`, published by the
   * revoke script on the same channel, so it reaches exactly the pods that hold the user):
   * sessions whose token was issued at or before this time (ms) must end.
   */
  revokedBefore?: number
}

export const REVOKED_HEAD = '!revoked'

/** The revocation message; an epoch never starts with `!`, so it cannot be taken for a notification. */

export function decodeLiveNotification(message: Buffer): LiveNotification | null {
  const nl = message.indexOf(NEWLINE)
  if (nl <= 0) return null
  if (message[0] === 0x21 /* ! */) {
    const at = Number(message.toString('latin1', nl + 1))
    if (message.toString('latin1', 0, nl) !== REVOKED_HEAD || !Number.isSafeInteger(at)) return null
    return { epoch: '', seq: -1, frame: message, meta: undefined, revokedBefore: at }
  }
  const { frame, meta } = splitMessage(message.subarray(nl + 1))
  const seq = readSeq(frame)
  if (seq === null) return null
  return { epoch: message.toString('latin1', 0, nl), seq, frame, meta }
}

/** The seq of a notification frame built by the deliver script, without parsing the JSON. */
export function readSeq(frame: Buffer | string): number | null {
  const buf = typeof frame === 'string' ? Buffer.from(frame) : frame
  if (
    buf.length <= SEQ_PREFIX.length ||
    buf.compare(SEQ_PREFIX, 0, SEQ_PREFIX.length, 0, SEQ_PREFIX.length) !== 0
  )
    return null
  let seq = 0
  for (let i = SEQ_PREFIX.length; i < buf.length; i++) {
    const c = buf[i]!
    if (c === COMMA) return i > SEQ_PREFIX.length ? seq : null
    if (c < 0x30 || c > 0x39) return null
    seq = seq * 10 + (c - 0x30)
  }
  return null
}
