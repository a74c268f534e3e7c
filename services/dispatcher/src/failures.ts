// How a failed write is treated: retried (Redis is unavailable for now) or a dead letter (retrying
// would fail the same way forever). The rule batch.ts applies to every write.

/** A write held back because an earlier write of the same user failed: retried with it. */
export class NotTriedError extends Error {
  constructor() {
    super('an earlier write of this user failed')
    this.name = 'NotTriedError'
  }
}

// Replies of a Redis that is not serving writes for now: loading, failing over, out of memory until
// eviction catches up, a script busy, a cluster resharding, credentials or ACLs an operator is fixing.
const UNAVAILABLE_REPLY =
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|OOM|MISCONF|NOAUTH|WRONGPASS|NOPERM|MOVED|ASK)\b|^ERR max number of clients/

// Thrown by JavaScript itself (e.g. JSON.stringify on a value it cannot serialise): a bug or an input
// the validation let through; the same event fails the same way every time.
const LANGUAGE_ERRORS = new Set([
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'URIError',
  'EvalError',
])

/**
 * Whether a failed write may succeed if tried again unchanged. Only unavailability is retried: the
 * connection is down or times out (ioredis's plain errors: "Connection is closed.", "Command timed
 * out", MaxRetriesPerRequestError, ClusterAllFailedError, ...) or Redis answers that it is not serving
 * for now. A reply about the data (WRONGTYPE, a script error) or a language error is permanent: the
 * event becomes a dead letter instead of stalling its partition — and through kafkajs's fetch loop,
 * every partition of the dispatcher.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLY.test(err.message)
  return !LANGUAGE_ERRORS.has(err.name)
}

export function errorMessage(err: unknown): string | undefined {
  if (err === undefined) return undefined
  return err instanceof Error ? err.message : String(err)
}
