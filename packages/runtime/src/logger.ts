import pino, { type DestinationStream, type Logger } from 'pino'

export type { Logger }

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

/** JSON lines on stdout (or `destination`), one logger per process, children per concern. */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = { name: service, level, redact: { paths: REDACT, censor: '[redacted]' } }
  return destination ? pino(options, destination) : pino(options)
}

/** Removes an `access_token` query parameter from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]')
}
