import { Type } from '@sinclair/typebox'
import pino, { type DestinationStream, type Logger } from 'pino'

export type { Logger }

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** LOG_LEVEL, spread into both services' env schemas. */
export const logLevelEnvProperties = {
  // an enum (not a union of literals) so that a wrong value reads "must be equal to one of the allowed values"
  LOG_LEVEL: Type.Unsafe<LogLevel>({
    type: 'string',
    enum: [...LOG_LEVELS],
    default: 'info',
    description: LOG_LEVELS.join(', '),
  }),
}

// Credentials never reach a log line: bearer headers, the browser subprotocol that carries a
// JWT, `?access_token=` of EventSource URLs, and any field called token.
const REDACT = [
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'req.headers.cookie',
  'token',
  '*.token',
  'accessToken',
]

// Redis keys carry the user id as a hash tag (`tdg:u:{b-1042}:inbox`): a log line must not.
const HASH_TAG = /\{[^{}\s"]+\}(?=:)/g
const scrub = (v: unknown): unknown => (typeof v === 'string' ? v.replace(HASH_TAG, '{…}') : v)

/**
 * pino's error serializer, minus what ioredis attaches: `command` (`{ name, args }`: the args are
 * key names and values, i.e. user ids and notification bodies) is reduced to its name, and
 * key names in the message and stack lose their user id. Causes are serialized the same way.
 */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return scrub(err)
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>
  return scrubError(out)
}
function scrubError(e: Record<string, unknown>): Record<string, unknown> {
  const command = e.command as { name?: unknown } | undefined
  if (command && typeof command === 'object') e.command = { name: command.name }
  for (const k of ['message', 'stack', 'raw']) if (k in e) e[k] = scrub(e[k])
  for (const k of ['previousErrors', 'lastNodeError']) delete e[k]
  if (e.cause && typeof e.cause === 'object') e.cause = scrubError(e.cause as Record<string, unknown>)
  return e
}

/** JSON lines on stdout (or `destination`), one logger per process, children per concern. */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    name: service,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: { err: serializeError },
  }
  return destination ? pino(options, destination) : pino(options)
}

/** Removes an `access_token` query parameter from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]')
}
