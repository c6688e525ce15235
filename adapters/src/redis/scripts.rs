//! The Lua scripts, each one atomic step on the server (`docs/model.md` explains them).

/// Claims due ids. `KEYS[1]` = the queue; `ARGV[1]` = now (ms), `ARGV[2]` = at most this
/// many, `ARGV[3]` = the lease's end (ms). Takes the earliest due members with
/// `ZRANGEBYSCORE ... LIMIT` (O(log n + max), whatever the backlog) and moves each one's
/// score to the lease's end, in chunks that stay below Lua's `unpack` limit.
pub(crate) const CLAIM_DUE: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local n = #ids
local i = 1
while i <= n do
  local args = {}
  local last = math.min(i + 499, n)
  for j = i, last do
    args[#args + 1] = ARGV[3]
    args[#args + 1] = ids[j]
  end
  redis.call('ZADD', KEYS[1], unpack(args))
  i = last + 1
end
return ids
";

/// Takes an idempotency key. `KEYS[1]` = the key; `ARGV[1]` = fingerprint, `ARGV[2]` =
/// TTL (ms). Returns nil when taken, else `{fingerprint, notification id or false}`.
pub(crate) const IDEMPOTENCY_ACQUIRE: &str = r"
if redis.call('HSETNX', KEYS[1], 'f', ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return nil
end
return redis.call('HMGET', KEYS[1], 'f', 'n')
";

/// Records the notification id under a key held with this fingerprint. `KEYS[1]` = the
/// key; `ARGV[1]` = id, `ARGV[2]` = TTL (ms), `ARGV[3]` = fingerprint. A key that expired,
/// was released or is held with another fingerprint is left alone.
pub(crate) const IDEMPOTENCY_COMPLETE: &str = r"
if redis.call('HGET', KEYS[1], 'f') == ARGV[3] then
  redis.call('HSET', KEYS[1], 'n', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Frees a key held with this fingerprint. `KEYS[1]` = the key; `ARGV[1]` = fingerprint.
pub(crate) const IDEMPOTENCY_RELEASE: &str = r"
if redis.call('HGET', KEYS[1], 'f') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Checks and consumes fixed-window counters. `KEYS[i]` = counter i of the current window;
/// `ARGV[2i-1]` = its limit, `ARGV[2i]` = its TTL (ms: until the window ends, plus a
/// margin). Returns 0 when every counter had room (each incremented), else the index of
/// the first full counter (nothing incremented).
pub(crate) const QUOTA_CONSUME: &str = r"
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then
    return i
  end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
  end
end
return 0
";
