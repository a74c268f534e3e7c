/** Retention settings shared by the writer (dispatcher) and the reader (gateway). */
export interface RetentionOptions {
  /** Seconds a notification waits in an offline user's inbox. */
  inboxTtlSeconds: number
  /** Most notifications kept per user; older ones are trimmed (and reported as missed). */
  inboxCap: number
  /** Seconds within which the same event id produces no second notification. */
  dedupeWindowSeconds: number
  /** Seconds the user's epoch/seq/acked state outlives the user's last activity. */
  stateTtlSeconds: number
}

export const DEFAULT_RETENTION: RetentionOptions = {
  inboxTtlSeconds: 24 * 3600,
  inboxCap: 1000,
  dedupeWindowSeconds: 24 * 3600,
  stateTtlSeconds: 30 * 24 * 3600,
}

export function validateRetention(o: RetentionOptions): RetentionOptions {
  for (const [name, v] of Object.entries(o)) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new RangeError(`retention option ${name} must be a positive integer, got ${v}`)
  }
  if (o.stateTtlSeconds < o.inboxTtlSeconds) {
    throw new RangeError(
      'stateTtlSeconds must be at least inboxTtlSeconds: an inbox must not outlive its epoch',
    )
  }
  return o
}
