import { TypeCompiler } from '@sinclair/typebox/compiler'
import {
  AckFrame,
  AuthFrame,
  type ClientFrame,
  ErrorCode,
  type MissedFrame,
  PingFrame,
  PROTOCOL_VERSION,
  TopicFrame,
} from '@tidings/contracts'

// Client frames are checked with schemas compiled once per process.
const checks = {
  ack: TypeCompiler.Compile(AckFrame),
  subscribe: TypeCompiler.Compile(TopicFrame),
  unsubscribe: TypeCompiler.Compile(TopicFrame),
  auth: TypeCompiler.Compile(AuthFrame),
  ping: TypeCompiler.Compile(PingFrame),
} as const

export type ParsedFrame =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: typeof ErrorCode.UnknownType | typeof ErrorCode.BadRequest; message: string }

/** Classifies a parsed JSON value as a client frame, or says why it is not one. */
export function parseClientFrame(value: unknown): ParsedFrame {
  const type = (value as { type?: unknown } | null)?.type
  if (typeof type !== 'string' || !Object.hasOwn(checks, type)) {
    return {
      ok: false,
      code: ErrorCode.UnknownType,
      message: `unknown frame type ${JSON.stringify(type ?? null)}`,
    }
  }
  const check = checks[type as keyof typeof checks]
  if (check.Check(value)) return { ok: true, frame: value as ClientFrame }
  const first = check.Errors(value).First()
  return {
    ok: false,
    code: ErrorCode.BadRequest,
    message: `${type}: ${first?.path || ''} ${first?.message ?? 'invalid'}`.trim(),
  }
}

// Server frames other than notifications are rare (once per session or per request), so
// JSON.stringify is fine for them; notifications arrive pre-serialised from Redis.
export const welcomeFrame = (sessionId: string, userId: string, epoch: string, heartbeatMs: number): string =>
  JSON.stringify({ type: 'welcome', sessionId, userId, epoch, heartbeatMs, protocol: PROTOCOL_VERSION })
export const missedFrame = (m: Omit<MissedFrame, 'type'>): string =>
  JSON.stringify({ type: 'missed', afterSeq: m.afterSeq, nextSeq: m.nextSeq, epoch: m.epoch })
export const errorFrame = (code: string, message: string): string =>
  JSON.stringify({ type: 'error', code, message })
export const topicReplyFrame = (type: 'subscribed' | 'unsubscribed', topic: string): string =>
  JSON.stringify({ type, topic })
export const reauthFrame = (expiresAtMs: number): string =>
  JSON.stringify({ type: 'reauth', expiresAt: new Date(expiresAtMs).toISOString() })
export const authenticatedFrame = (expiresAtMs: number): string =>
  JSON.stringify({ type: 'authenticated', expiresAt: new Date(expiresAtMs).toISOString() })
export const reconnectFrame = (afterMs: number): string => JSON.stringify({ type: 'reconnect', afterMs })
export const PONG = JSON.stringify({ type: 'pong' })
