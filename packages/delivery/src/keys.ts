// Every key and channel of one user carries the `{userId}` hash tag so that they live in one
// Redis Cluster slot: a Lua script may touch them together and SPUBLISH reaches the shard
// that owns them. User ids and topic names are validated upstream to contain no braces.

const PREFIX = 'tdg'

/** The user's sequence state: hash { epoch, seq, acked, ttlAt } (ttlAt: scripts.ts DELIVER). */
export const userStateKey = (userId: string): string => `${PREFIX}:u:{${userId}}:state`
/** The user's inbox: a list of notification frames (JSON text), oldest first, seqs contiguous. */
export const userInboxKey = (userId: string): string => `${PREFIX}:u:{${userId}}:inbox`
/** Marks one source event as already turned into a notification for this user. */
export const userDedupeKey = (userId: string, dedupeId: string): string =>
  `${PREFIX}:u:{${userId}}:dd:${dedupeId}`
/** Sharded pub/sub channel of one user: `<epoch>\n<frame>` messages. */
export const userChannel = (userId: string): string => `${PREFIX}:u:{${userId}}:ch`

export const topicDedupeKey = (topic: string, dedupeId: string): string =>
  `${PREFIX}:t:{${topic}}:dd:${dedupeId}`
/** Sharded pub/sub channel of a broadcast topic: frame messages. */
export const topicChannel = (topic: string): string => `${PREFIX}:t:{${topic}}:ch`

/** Presence of one user's sessions: hash sessionId → pod, with a TTL refreshed by heartbeats. */
export const userPresenceKey = (userId: string): string => `${PREFIX}:u:{${userId}}:presence`

/** When the user's sessions were revoked (ms since the epoch): tokens issued until then are refused. */
export const userRevokedKey = (userId: string): string => `${PREFIX}:u:{${userId}}:revoked`

/**
 * Prefix of the gateway's rate-limit counters: per IP rate-limiter-flexible's `<kind>:ip:<address>`
 * (e.g. `tdg:rl:connect:ip:203.0.113.7`), per user userRateLimitKey. One counter per key: fine in
 * Redis Cluster.
 */
export const RATE_LIMIT_KEY_PREFIX = `${PREFIX}:rl`

// The push hand-off queue (push.ts): one per push topic (`queue`; two deployments or tests sharing a
// Redis never mix), sharded by user, each shard under its own hash tag.
/** Due push entries of one shard: sorted set, score = due time (ms, Redis clock). */
export const pushDueKey = (queue: string, shard: number): string => `${PREFIX}:push:{${queue}:s${shard}}:due`
/** Entries a dispatcher is handling: sorted set, score = lease expiry (ms). */
export const pushClaimedKey = (queue: string, shard: number): string =>
  `${PREFIX}:push:{${queue}:s${shard}}:claimed`
/** Marks a notification's push as handled, so a redelivered event does not schedule it again. */
export const pushDoneKey = (queue: string, shard: number, notificationId: string): string =>
  `${PREFIX}:push:{${queue}:s${shard}}:done:${notificationId}`

/**
 * A per-user rate-limit counter (`name`: what it counts, e.g. `connect`), under the user's hash tag:
 * the handshake's user check reads it and the revocation in one script (user-gate.ts).
 */
export const userRateLimitKey = (userId: string, name: string): string =>
  `${RATE_LIMIT_KEY_PREFIX}:u:{${userId}}:${name}`
