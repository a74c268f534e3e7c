// What the bench process and its load generators (loadgen.ts) exchange over IPC, and the tokens they use.
import { createHmac } from 'node:crypto'

export interface OpenRequest {
  url: string
  /** Users `${userPrefix}${i}` for i in [from, from + count): one socket each. */
  userPrefix: string
  from: number
  count: number
  /** HS256 secret the server verifies with. */
  secret: string
  /** Source addresses, used in turn, `perAddress` sockets each. */
  addresses: string[]
  perAddress: number
  /** Handshakes in flight at once. */
  concurrency: number
  /** Parse frames and record latencies. */
  track: boolean
  /** Which server this is: the Tidings gateway (default) or a peer of the end-to-end bench. */
  protocol?: 'tidings' | 'socketio' | 'centrifugo' | 'sdk'
  /** sdk: the other gateways, tried in turn after `url` fails (the reconnect storm). */
  fallbackUrls?: string[]
}

export interface OpenResult {
  opened: number
  failed: number
  retries: number
  errors: string[]
  ms: number
}

export interface Stats {
  open: number
  /** Closed by the server (or the network) while we held them. */
  unexpectedCloses: number
  frames: Record<string, number>
  notifications: number
  /** Sockets that received a notification seq not exactly previous + 1. */
  outOfOrder: number
  latenciesMs?: number[]
  /** sdk: clients whose connection is open now, and distinct notification ids shown. */
  sdkOpen?: number
  sdkDistinct?: number
  /** With latenciesMs: when each was produced (process.hrtime in ms), same order. */
  sentMs?: number[]
}

export type LoadgenRequest =
  | { op: 'open'; req: OpenRequest }
  | { op: 'stats'; latencies?: boolean }
  | { op: 'close' }

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url')
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))

/** An HS256 JWT (`sub`, `iat`, `exp` two hours ahead), signed the way an identity provider would. */
export function signToken(userId: string, secret: string): string {
  const now = Math.floor(Date.now() / 1000)
  // iat: the gateway requires it (and never in the future)
  const payload = b64url(JSON.stringify({ sub: userId, iat: now, exp: now + 7200 }))
  const sig = createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url')
  return `${HEADER}.${payload}.${sig}`
}

/**
 * The produce time the end-to-end bench puts in an event's loanId (`t<process.hrtime.bigint()>`): the
 * one field every system under test delivers unchanged. Undefined for any other loanId.
 */
export function sentAtNs(loanId: unknown): bigint | undefined {
  return typeof loanId === 'string' && /^t\d+$/.test(loanId) ? BigInt(loanId.slice(1)) : undefined
}
