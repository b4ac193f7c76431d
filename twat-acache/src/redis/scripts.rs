//! The Lua scripts that keep one namespace's entries, its eviction order (a sorted set)
//! and its byte count in step, atomically. Every key a script touches carries the
//! namespace's hash tag, so in a Redis Cluster they all live in one slot (one node) and a
//! script may reach them.
//!
//! Keys of namespace `N` (its 16 hex digits): entries `twat:{N}:<digest hex>`, the order
//! `twat:{N}:order` (member: digest hex; score: last write, or last read under LRU, in
//! Unix ms), the sizes `twat:{N}:sizes` (member → entry bytes, `total`, and `changes`:
//! one more for every script that writes or deletes entries, which memory tiers (`l1`)
//! watch; it is the last command of each script, so a script that failed did not count).
//!
//! Scripts run without shebang flags: Redis then refuses one with `OOM` only when it
//! would run a command that grows memory (`SET`, `ZADD`), so [`EVICT`] (which only
//! deletes) still runs when `maxmemory` is reached.

/// Stores one entry and evicts to respect the bounds.
///
/// KEYS: entry, order, sizes. ARGV: entry bytes, px (0: none), member, now ms, maxsize
/// (0: none), max_bytes (0: none), entry key prefix, then members read since the last
/// write (LRU; empty under FIFO). Returns `{evicted, expired}`: entries removed for the
/// bounds, and members whose entry had already expired.
pub(crate) const PUT: &str = r#"
local entry, order, sizes = KEYS[1], KEYS[2], KEYS[3]
local member, now = ARGV[3], tonumber(ARGV[4])
for i = 8, #ARGV do
  redis.call('ZADD', order, 'XX', 'GT', now, ARGV[i])
end
if ARGV[2] == '0' then
  redis.call('SET', entry, ARGV[1])
else
  redis.call('SET', entry, ARGV[1], 'PX', ARGV[2])
end
redis.call('ZADD', order, now, member)
local old = tonumber(redis.call('HGET', sizes, member) or '0')
redis.call('HSET', sizes, member, #ARGV[1])
local total = redis.call('HINCRBY', sizes, 'total', #ARGV[1] - old)
local maxsize, maxbytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix = ARGV[7]
local count = redis.call('ZCARD', order)
local evicted, expired = 0, 0
while (maxsize > 0 and count > maxsize) or (maxbytes > 0 and total > maxbytes) do
  -- Writes within one millisecond tie on score and sort by member: the entry just
  -- written may come first, and is never its own victim.
  local first = redis.call('ZRANGE', order, 0, 1)
  local victim = first[1]
  if victim == member then victim = first[2] end
  if not victim then break end
  local gone = redis.call('DEL', prefix .. victim)
  redis.call('ZREM', order, victim)
  local size = tonumber(redis.call('HGET', sizes, victim) or '0')
  redis.call('HDEL', sizes, victim)
  total = redis.call('HINCRBY', sizes, 'total', -size)
  count = count - 1
  if gone == 1 then evicted = evicted + 1 else expired = expired + 1 end
end
redis.call('HINCRBY', sizes, 'changes', 1)
return {evicted, expired}
"#;

/// Forgets a member whose entry Redis expired (`PX`): drops it from the order and sizes
/// only if its entry is still gone, in one step, so an entry another caller stored since
/// the `GET` that missed stays. Counts no change: the entry was already gone, and every
/// tier holding it expires it by the same deadline.
///
/// KEYS: order, sizes. ARGV: entry key prefix, member. Returns 1 when the member was
/// forgotten (the miss is an expiry), else 0.
pub(crate) const FORGET_EXPIRED: &str = r#"
local order, sizes, prefix, member = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
if redis.call('EXISTS', prefix .. member) == 1 then return 0 end
if redis.call('ZREM', order, member) == 0 then return 0 end
local size = tonumber(redis.call('HGET', sizes, member) or '0')
redis.call('HDEL', sizes, member)
redis.call('HINCRBY', sizes, 'total', -size)
return 1
"#;

/// Removes entries by member, keeping the order and sizes in step.
///
/// KEYS: order, sizes. ARGV: entry key prefix, then members. Returns how many entries
/// still existed.
pub(crate) const REMOVE: &str = r#"
local order, sizes, prefix = KEYS[1], KEYS[2], ARGV[1]
local removed = 0
for i = 2, #ARGV do
  local member = ARGV[i]
  removed = removed + redis.call('DEL', prefix .. member)
  if redis.call('ZREM', order, member) == 1 then
    local size = tonumber(redis.call('HGET', sizes, member) or '0')
    redis.call('HDEL', sizes, member)
    redis.call('HINCRBY', sizes, 'total', -size)
  end
end
redis.call('HINCRBY', sizes, 'changes', 1)
return removed
"#;

/// Evicts the `n` entries first in the order (oldest written, or least recently used):
/// room for a write that Redis refused with `OOM`.
///
/// KEYS: order, sizes. ARGV: entry key prefix, n. Returns how many entries it deleted.
pub(crate) const EVICT: &str = r#"
local order, sizes, prefix = KEYS[1], KEYS[2], ARGV[1]
local victims = redis.call('ZRANGE', order, 0, tonumber(ARGV[2]) - 1)
local removed = 0
for _, member in ipairs(victims) do
  removed = removed + redis.call('DEL', prefix .. member)
  redis.call('ZREM', order, member)
  local size = tonumber(redis.call('HGET', sizes, member) or '0')
  redis.call('HDEL', sizes, member)
  redis.call('HINCRBY', sizes, 'total', -size)
end
redis.call('HINCRBY', sizes, 'changes', 1)
return removed
"#;

/// Drops the members (and sizes) of entries Redis has expired, among the `ARGV[2]`
/// members from rank `ARGV[3]` on whose score is at most `ARGV[4]` (now - ttl: a member
/// scored later was written or read since, so its entry may live; it is checked when it
/// is read or evicted instead).
///
/// KEYS: order, sizes. ARGV: entry key prefix, batch, start rank, cutoff ms. Returns
/// `{dropped, members looked at}`.
pub(crate) const SWEEP: &str = r#"
local order, sizes, prefix = KEYS[1], KEYS[2], ARGV[1]
local batch, start = tonumber(ARGV[2]), tonumber(ARGV[3])
local members = redis.call('ZRANGEBYSCORE', order, '-inf', ARGV[4], 'LIMIT', start, batch)
local dropped = 0
for _, member in ipairs(members) do
  if redis.call('EXISTS', prefix .. member) == 0 then
    redis.call('ZREM', order, member)
    local size = tonumber(redis.call('HGET', sizes, member) or '0')
    redis.call('HDEL', sizes, member)
    redis.call('HINCRBY', sizes, 'total', -size)
    dropped = dropped + 1
  end
end
return {dropped, #members}
"#;
