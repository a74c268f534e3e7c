import { NOTIFICATION_FRAME_PREFIX } from './live-message.ts'

// The Lua scripts both services run. Each touches the keys of a single user (one hash tag),
// so each is one atomic step in standalone Redis and in Redis Cluster alike.
//
// Invariant kept by every script: the inbox holds a contiguous run of seqs that ends at the
// state's `seq` (RPUSH appends seq, trims and acks only remove from the head, expiry removes
// all), so the head's seq is `seq - LLEN + 1` with no parsing. When the state is (re)created
// the inbox is deleted: its entries belonged to an epoch that no longer exists.

const ENSURE_STATE = `
local function ensure_state(stateKey, inboxKey, candidate)
  local st = redis.call('HMGET', stateKey, 'epoch', 'seq', 'acked')
  if st[1] then return st[1], tonumber(st[2]), tonumber(st[3]) end
  redis.call('HSET', stateKey, 'epoch', candidate, 'seq', 0, 'acked', 0)
  redis.call('DEL', inboxKey)
  return candidate, 0, 0
end
`

// One notification into one user's inbox. Returns {seq, epoch, inbox length}, or {0, mark} for a
// duplicate: the mark is "<seq> <epoch>" of the first delivery ("1" for marks written before it
// carried them). `tail` is the notification JSON without its opening brace; the frame is assembled
// here because only this script knows the seq. `meta` ('' or `@…\n`, meta.ts) is stored before it.
// `now` is Redis's clock in seconds (one TIME per script call).
//
// The dedupe check and the mark are one command (SET NX GET), the script's first write. Scripts do
// not roll back, so a write after it that fails must not leave the mark behind (the retry, or the
// dead letter's replay, would be a silent "duplicate"): the only write that can fail after it is the
// RPUSH into an existing inbox (a key of another type), and that removes the mark before it raises.
// (After a script's first write Redis no longer refuses its writes for maxmemory.) One cost of this
// order: while Redis refuses writes for maxmemory, a duplicate is refused too (it was answered
// `duplicate` before); the dispatcher retries it like the new events beside it, which fail alike.
//
// TTLs are refreshed when they were last refreshed `refreshAfter` seconds ago or more (the state's
// `ttlAt`, Redis's clock), and whenever the inbox or the state is new: a user who receives many
// notifications a minute costs two EXPIREs a minute, not two per notification. A key can so expire
// up to `refreshAfter` seconds early, which the caller keeps small beside the TTLs.
const DELIVER = `
local function deliver(stateKey, inboxKey, dedupeKey, candidate, tail, cap, inboxTtl, dedupeTtl, stateTtl, channel, meta, now, refreshAfter)
  local st = redis.call('HMGET', stateKey, 'epoch', 'seq', 'ttlAt')
  local known = st[1]
  local epoch, seq = candidate, 1
  if known then epoch, seq = known, tonumber(st[2]) + 1 end
  local mark = redis.call('SET', dedupeKey, seq .. ' ' .. epoch, 'NX', 'GET', 'EX', dedupeTtl)
  if mark then return {0, mark} end
  local entry = meta .. '${NOTIFICATION_FRAME_PREFIX}' .. seq .. ',' .. tail
  local len
  if known then
    len = redis.pcall('RPUSH', inboxKey, entry)
    if type(len) == 'table' then
      redis.call('DEL', dedupeKey)
      error(len)
    end
  else
    -- a new state: the inbox's entries belonged to an epoch that no longer exists
    redis.call('DEL', inboxKey)
    len = redis.call('RPUSH', inboxKey, entry)
  end
  -- RPUSH gives the length: a trim (and a second length) only when the cap is passed
  if len > cap then
    redis.call('LTRIM', inboxKey, -cap, -1)
    len = cap
  end
  local ttlAt = tonumber(st[3])
  local refresh = not known or len == 1 or not ttlAt or now < ttlAt or now - ttlAt >= refreshAfter
  if not known then
    redis.call('HSET', stateKey, 'epoch', epoch, 'seq', seq, 'acked', 0, 'ttlAt', now)
  elseif refresh then
    redis.call('HSET', stateKey, 'seq', seq, 'ttlAt', now)
  else
    redis.call('HSET', stateKey, 'seq', seq)
  end
  if refresh then
    redis.call('EXPIRE', inboxKey, inboxTtl)
    redis.call('EXPIRE', stateKey, stateTtl)
  end
  -- pcall: the notification is stored, and the live copy is at-most-once anyway (a gateway that
  -- misses it replays it from the inbox). A refused publish (an ACL without the channel) raised
  -- here would report a failed write after the writes: retried it is a duplicate, dead-lettered a
  -- lie. The start-up check (access.ts) refuses such credentials.
  redis.pcall('SPUBLISH', channel, epoch .. '\\n' .. entry)
  return {seq, epoch, len}
end
`

/**
 * KEYS: state, inbox, dedupe.  ARGV: candidateEpoch, frameTail, cap, inboxTtl, dedupeTtl,
 * stateTtl, channel, metaLine, refreshAfter.  One notification (see DELIVER for the reply).
 */
export const DELIVER_TO_USER = `${DELIVER}
return deliver(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(redis.call('TIME')[1]), tonumber(ARGV[9]))
`

/**
 * Many notifications in one call, in order (one script call per slice instead of per notification).
 * KEYS: state, inbox, dedupe of item 1, then of item 2, ….  ARGV: candidateEpoch, cap, inboxTtl,
 * dedupeTtl, stateTtl, refreshAfter, then channel, frameTail, metaLine of item 1, of item 2, ….
 * Returns one reply per item: DELIVER's, or {-1, error} when its write failed, or {-2} when it was
 * not tried because an earlier item of the same user failed (a later event must never take an
 * earlier one's seq). One candidate epoch serves the whole call: it names a user's state only within
 * that user, and a user's state is created at most once per call. Its keys must share a slot in a
 * Redis Cluster.
 */
export const DELIVER_TO_USERS = `${DELIVER}
local cap = tonumber(ARGV[2])
local refreshAfter = tonumber(ARGV[6])
local now = tonumber(redis.call('TIME')[1])
local failed = {}
local out = {}
for i = 1, #KEYS / 3 do
  local k = 3 * i - 2
  local a = 3 * i + 4
  if failed[KEYS[k]] then
    out[i] = {-2}
  else
    local ok, res = pcall(deliver, KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[1], ARGV[a + 1], cap, ARGV[3], ARGV[4], ARGV[5], ARGV[a], ARGV[a + 2], now, refreshAfter)
    if ok then
      out[i] = res
    else
      failed[KEYS[k]] = true
      out[i] = {-1, type(res) == 'table' and res.err or tostring(res)}
    end
  end
end
return out
`

/**
 * KEYS: dedupe.  ARGV: dedupeTtl, channel, message (meta line + frame).  Returns 0 for a duplicate, else 1.
 * The mark is written first: a publish is not a write, so under maxmemory a mark written after it was
 * refused after the broadcast went out, and every retry of the call published it again. A refused
 * publish removes the mark, so that the retry or the dead letter's replay is not a "duplicate".
 */
export const PUBLISH_TO_TOPIC = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local published = redis.pcall('SPUBLISH', ARGV[2], ARGV[3])
if type(published) == 'table' and published.err then
  redis.call('DEL', KEYS[1])
  return redis.error_reply(published.err)
end
return 1
`

// The inbox read of READ_INBOX, and of the connect path's ADMIT_SESSION (scripts-connect.ts).
export const READ_INBOX_FN = `${ENSURE_STATE}
local function read_inbox(stateKey, inboxKey, candidate, afterSeq, clientEpoch, stateTtl, lastId)
  local epoch, seq, acked = ensure_state(stateKey, inboxKey, candidate)
  redis.call('EXPIRE', stateKey, stateTtl)
  local len = redis.call('LLEN', inboxKey)
  local head = seq - len + 1
  local after = 0
  local regressed = 0
  if clientEpoch == epoch or clientEpoch == '' then
    after = tonumber(afterSeq)
    -- the caller saw a seq this state never reached: writes were lost (a failover) and seqs may be
    -- reused, so nothing after 0 can be trusted
    if after > seq then after = 0; regressed = 1 end
    -- the same when the caller's last seq now holds another notification: seqs reused up to it
    -- (lastId: the id it had there, JSON-escaped; checked while the entry is still in the inbox).
    -- Compared at the start of the frame (after the meta line), where DELIVER put seq and id.
    if lastId ~= '' and after >= 1 and after >= head then
      local entry = redis.call('LINDEX', inboxKey, after - head)
      if entry then
        local at = 1
        if string.byte(entry, 1) == 64 then at = (string.find(entry, '\\n', 1, true) or 0) + 1 end
        local expected = '${NOTIFICATION_FRAME_PREFIX}' .. after .. ',"id":"' .. lastId .. '"'
        if string.sub(entry, at, at + #expected - 1) ~= expected then after = 0; regressed = 1 end
      end
    end
  end
  local from = math.max(after + 1, head)
  local frames = {}
  if len > 0 and from <= seq then frames = redis.call('LRANGE', inboxKey, from - head, -1) end
  if #frames == 0 then from = seq + 1 end
  return epoch, seq, acked, from, frames, regressed
end
`

/**
 * KEYS: state, inbox.  ARGV: candidateEpoch, afterSeq, clientEpoch ('' = "the current one", for
 * callers that only know a seq), stateTtl, lastId (the JSON-escaped id of the caller's notification
 * at afterSeq, or '').  afterSeq only counts in the epoch it came from, and only if afterSeq is not
 * past the latest seq nor holds another id.  Returns {epoch, seq, acked, firstSeq, frames,
 * regressed}: the frames after afterSeq (or from the oldest when the epoch differs or the seqs were
 * reused: regressed = 1), firstSeq = seq of frames[1] or seq+1 when none.
 */
export const READ_INBOX = `${READ_INBOX_FN}
return {read_inbox(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])}
`

/**
 * KEYS: state, inbox.  ARGV: epoch ('' = the current one), seq.  Cumulative ack: records the highest acked seq and
 * removes every entry <= it. Returns {acked seq now in force, meta line of the acked entry or ''},
 * or {-1, ''} when the epoch is not the current one (the ack is about notifications that no longer
 * exist). The meta line lets the ack join the trace of the notification it names.
 *
 * An ack above the latest seq is ignored, not capped: a client can only have seen such a seq before
 * Redis lost writes (a failover), and the seqs up to it are being reused by notifications it has not
 * seen. Capping would delete those for every device.
 */
export const ACK = `
local st = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'acked')
if not st[1] or (ARGV[1] ~= '' and st[1] ~= ARGV[1]) then return {-1, ''} end
local seq, acked = tonumber(st[2]), tonumber(st[3])
local ack = tonumber(ARGV[2])
if ack > seq or ack <= acked then return {acked, ''} end
redis.call('HSET', KEYS[1], 'acked', ack)
local len = redis.call('LLEN', KEYS[2])
local drop = ack - (seq - len + 1) + 1
local meta = ''
if drop > 0 and drop <= len then
  local entry = redis.call('LINDEX', KEYS[2], drop - 1)
  if entry and string.byte(entry, 1) == 64 then
    local nl = string.find(entry, '\\n', 1, true)
    if nl then meta = string.sub(entry, 1, nl) end
  end
end
if drop >= len then redis.call('DEL', KEYS[2]) elseif drop > 0 then redis.call('LTRIM', KEYS[2], drop, -1) end
return {ack, meta}
`

// Presence: a sorted set per user, member = session, score = expiry in ms (Redis clock, so
// pods with skewed clocks agree). Entries of a pod that died stop counting once they expire.
export const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/** KEYS: presence.  ARGV: member, ttlMs, maxSessions.  Returns 1 when admitted, 0 when full. */
export const PRESENCE_JOIN = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
-- a member already present is this call repeated (a lost reply): it keeps its slot
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`

/** KEYS: presence.  Returns the number of live sessions. */
export const PRESENCE_COUNT = `${NOW_MS}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`

/**
 * KEYS: revoked.  ARGV: ttlSeconds, channel, messageHead.  Records the revocation time, now on
 * Redis's clock (never moving it back), and tells every pod holding the user's sessions with
 * `<messageHead>\n<time>`, in one step. Returns the time in force (ms).
 */
export const REVOKE_USER = `
-- Redis's clock, not the pod's: a pod whose clock runs ahead would otherwise refuse every fresh
-- login for that long, and max() would keep its time.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prev = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(prev, now)
redis.call('SET', KEYS[1], at, 'EX', ARGV[1])
redis.call('SPUBLISH', ARGV[2], ARGV[3] .. '\\n' .. at)
return at
`

/**
 * KEYS: one presence key (it routes the call in a Cluster).  ARGV: ttlMs, then key, member pairs
 * (of any users, that key's first).  Extends live sessions, a vanished one is not re-added: a
 * slice of the heartbeat sweep in one call. In a Cluster the caller sends each call only keys its
 * node serves: a script's declared keys must share a slot, so the others are arguments, which the
 * flag lets it touch there. Returns the (0-based) pairs whose key this node does not serve (a slot
 * moved and the caller's slot map is stale): pcall, so one of them does not stop the others.
 */
export const PRESENCE_REFRESH_MANY = `#!lua flags=allow-cross-slot-keys
${NOW_MS}
local ttl = tonumber(ARGV[1])
local expiry = now + ttl
local elsewhere = {}
for i = 2, #ARGV, 2 do
  local changed = redis.pcall('ZADD', ARGV[i], 'XX', 'CH', expiry, ARGV[i + 1])
  if type(changed) == 'table' and changed.err then
    elsewhere[#elsewhere + 1] = i / 2 - 1
  elseif changed == 1 then
    redis.call('PEXPIRE', ARGV[i], ttl)
  end
end
return elsewhere
`
