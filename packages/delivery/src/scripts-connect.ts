import { NOW_MS, READ_INBOX_FN } from './scripts.ts'

/**
 * The connect path in one step (session-admission.ts). KEYS: presence, revoked, state, inbox (one
 * user, one hash tag).  ARGV: member, ttlMs, maxSessions, candidateEpoch, afterSeq, clientEpoch,
 * stateTtl, lastId (READ_INBOX's).  Returns {0} when the user has maxSessions live sessions
 * (nothing else is touched), else {1, revokedAt or '', epoch, seq, acked, firstSeq, frames,
 * regressed}: PRESENCE_JOIN, GET of the revocation and READ_INBOX together.
 */
export const ADMIT_SESSION = `${NOW_MS}
${READ_INBOX_FN}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
-- a member already present is this very call repeated (its reply lost with the connection, the
-- command re-sent by ioredis or retried): it keeps its slot instead of being refused by itself
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return {0} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local revoked = redis.call('GET', KEYS[2]) or ''
return {1, revoked, read_inbox(KEYS[3], KEYS[4], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])}
`

/**
 * A handshake's checks on its user (user-gate.ts). KEYS: revoked, rate-limit counter (one user, one
 * hash tag).  ARGV: window seconds, the token's iat in seconds ('' when it has none).  Counts the
 * request in a fixed window (the counter expires with the window, as rate-limiter-flexible's script
 * does) and returns {revokedAt or '', count in the window, ms until the window ends}. A token the
 * revocation refuses (isRevoked, revocation.ts) is not counted ({revokedAt, 0, 0}): the revocation
 * check comes first (docs/protocol.md §3.2), and old devices retrying with revoked tokens must not
 * use up the budget of the user's new login.
 */
export const USER_GATE = `
local revoked = redis.call('GET', KEYS[1]) or ''
if revoked ~= '' and (ARGV[2] == '' or tonumber(ARGV[2]) <= math.floor(tonumber(revoked) / 1000)) then
  return {revoked, 0, 0}
end
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[2])
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -1 then
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  ttl = 1000 * tonumber(ARGV[1])
end
return {revoked, count, ttl}
`
