// Random and mutated client frames, and what the protocol says the gateway must do with each
// (docs/protocol.md §4, §9): the oracle is the contracts' frame schemas, never the gateway's code.
import { AckFrame, AuthFrame, compileValidator, PingFrame, TopicFrame } from '@tidings/contracts'

export interface FuzzFrame {
  bytes: Buffer
  binary: boolean
  /** How it was made, for a failure message. */
  origin: string
}

/** What the gateway does with a frame: a reply of this type, nothing, or closing with a code. */
export type Outcome = { reply: string } | { none: true } | { close: number; early?: boolean }

/** The topic the fuzz users' tokens allow. */
export const ALLOWED_TOPIC = 'news'

const schemas = {
  ack: compileValidator(AckFrame),
  subscribe: compileValidator(TopicFrame),
  unsubscribe: compileValidator(TopicFrame),
  auth: compileValidator(AuthFrame),
  ping: compileValidator(PingFrame),
}
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The protocol's answer to one frame, given the session's violation count so far. `early`: the
 * WebSocket layer itself refuses it (size, UTF-8), possibly before replies to earlier frames.
 */
export function expectedOutcome(
  f: FuzzFrame,
  limits: { maxFrameBytes: number; maxViolations: number },
  violations: { count: number },
): Outcome {
  if (f.bytes.length > limits.maxFrameBytes) return { close: 1009, early: true }
  if (f.binary) return { close: 1003 }
  let text: string
  try {
    text = utf8.decode(f.bytes)
  } catch {
    return { close: 1007, early: true }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { close: 1007 }
  }
  const type = (value as { type?: unknown } | null)?.type
  const check =
    typeof type === 'string' && Object.hasOwn(schemas, type)
      ? schemas[type as keyof typeof schemas]
      : undefined
  if (!check?.(value).ok) {
    violations.count++
    return violations.count > limits.maxViolations ? { close: 1008 } : { reply: 'error' }
  }
  const frame = value as { type: string; topic?: string }
  switch (frame.type) {
    case 'ping':
      return { reply: 'pong' }
    case 'ack':
      return { none: true }
    case 'subscribe':
      return { reply: frame.topic === ALLOWED_TOPIC ? 'subscribed' : 'error' }
    case 'unsubscribe':
      return { reply: 'unsubscribed' }
    default:
      // `auth` with anything but a real token of this user
      return { close: 4001 }
  }
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
const int = (r: () => number, n: number) => Math.floor(r() * n)

function randomString(r: () => number, max: number): string {
  const alphabets = [
    'abcxyz',
    '0123456789',
    '{}[]":,\\ ',
    '\u0000\u001f\u007f',
    'é漢字🙂\u2028\ud800',
    'news.ep-1_',
  ]
  const a = pick(r, alphabets)
  let s = ''
  for (let i = int(r, max); i > 0; i--) s += a[int(r, a.length)]
  return s
}

function randomJson(r: () => number, depth: number): unknown {
  switch (depth <= 0 ? int(r, 4) : int(r, 7)) {
    case 0:
      return pick(r, [0, -1, 1.5, 2 ** 53, 1e308, -0, Number.MAX_SAFE_INTEGER + 2])
    case 1:
      return randomString(r, 24)
    case 2:
      return pick(r, [true, false, null])
    case 3:
      return pick(r, ['ack', 'ping', 'auth', 'subscribe', 'unsubscribe', 'welcome', 'notification', ''])
    case 4:
      return Array.from({ length: int(r, 4) }, () => randomJson(r, depth - 1))
    default: {
      const o: Record<string, unknown> = {}
      for (let i = int(r, 4); i > 0; i--) {
        o[pick(r, ['type', 'seq', 'epoch', 'topic', 'token', '__proto__', 'x', randomString(r, 6)])] =
          randomJson(r, depth - 1)
      }
      return o
    }
  }
}

const VALID: Array<(r: () => number) => unknown> = [
  () => ({ type: 'ping' }),
  (r) => ({ type: 'ack', seq: int(r, 5) }),
  (r) => ({ type: 'ack', seq: int(r, 5), epoch: pick(r, ['ep-1', 'AbC_9-x']) }),
  (r) => ({ type: 'subscribe', topic: pick(r, [ALLOWED_TOPIC, 'other', 'promo.bn']) }),
  (r) => ({ type: 'unsubscribe', topic: pick(r, [ALLOWED_TOPIC, 'other']) }),
  (r) => ({ type: 'auth', token: `eyJ${randomString(r, 40)}` }),
]

function mutate(r: () => number, bytes: Buffer): Buffer {
  let b = Buffer.from(bytes)
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const at = int(r, b.length + 1)
    switch (int(r, 7)) {
      case 0: // flip a byte
        if (b.length) b[Math.min(at, b.length - 1)]! ^= 1 << int(r, 8)
        break
      case 1: // cut
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 8)))])
        break
      case 2: // insert random bytes
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(Array.from({ length: 1 + int(r, 6) }, () => int(r, 256))),
          b.subarray(at),
        ])
        break
      case 3: // insert text (may keep it JSON)
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(pick(r, [',', '"', '}', '{"x":1}', ' ', '\\u0000', 'null', '9999999999999999999'])),
          b.subarray(at),
        ])
        break
      case 4: // duplicate a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + int(r, 10)), b.subarray(at)])
        break
      case 5: // truncate
        b = b.subarray(0, at)
        break
      default: {
        // wrap in nesting
        const d = 1 + int(r, 3000)
        b = Buffer.concat([Buffer.from('['.repeat(d)), b, Buffer.from(']'.repeat(d))])
      }
    }
  }
  return b
}

/** One frame: valid, mutated from a valid one, random JSON, random bytes, binary or oversized. */
export function nextFrame(r: () => number, maxFrameBytes: number): FuzzFrame {
  const kind = int(r, 100)
  if (kind < 20) {
    const v = pick(r, VALID)(r)
    return { bytes: Buffer.from(JSON.stringify(v)), binary: false, origin: 'valid' }
  }
  if (kind < 60) {
    const base = Buffer.from(JSON.stringify(pick(r, VALID)(r)))
    return { bytes: mutate(r, base), binary: false, origin: 'mutated' }
  }
  if (kind < 80) {
    return {
      bytes: Buffer.from(JSON.stringify(randomJson(r, 4)) ?? 'null'),
      binary: false,
      origin: 'random-json',
    }
  }
  if (kind < 90) {
    const bytes = Buffer.from(Array.from({ length: int(r, 64) }, () => int(r, 256)))
    return { bytes, binary: false, origin: 'random-bytes' }
  }
  if (kind < 95) {
    return { bytes: Buffer.from(JSON.stringify({ type: 'ping' })), binary: true, origin: 'binary' }
  }
  const size = maxFrameBytes + 1 + int(r, 4 * maxFrameBytes)
  return {
    bytes: Buffer.from(`{"type":"ping","x":"${'a'.repeat(size)}"}`),
    binary: false,
    origin: 'oversized',
  }
}
