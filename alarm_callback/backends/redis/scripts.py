"""The Lua scripts of the Redis store: each is one atomic step on the server (`Record.decide`
for a claim, a marker with its claim, the settle, the episode compare-and-swap)."""

# A marker: published from birth, expiring with the dedup TTL; written only where no live
# record stands. Shared by the claim (a new record's marker) and `remember`.
WRITE_MARKER = """
local function write_marker(key, pointer, now, expires_at)
  local held = redis.call('HGET', key, 'expires_at')
  if held and tonumber(held) > tonumber(now) then
    return 0
  end
  redis.call('DEL', key)
  redis.call('HSET', key, 'status', 'published', 'message', pointer, 'created_at', now,
    'updated_at', now, 'expires_at', expires_at, 'lease_until', now)
  redis.call('PEXPIRE', key, math.max(math.floor((tonumber(expires_at) - tonumber(now)) * 1000), 1))
  return 1
end
"""

# KEYS: record, pending index[, marker]. ARGV: key, message, now, expires_at, lease_until,
# digest. Record.decide in one step. Returns 1 for a new record (its marker written in the
# same step), {1, HGETALL} for a takeover (the stored message, digest and created_at are
# kept) and {0, HGETALL} when the caller lost.
CLAIM = (
    WRITE_MARKER
    + """
local status = redis.call('HGET', KEYS[1], 'status')
local now = tonumber(ARGV[3])
if status and tonumber(redis.call('HGET', KEYS[1], 'expires_at')) > now then
  local stored = redis.call('HGET', KEYS[1], 'digest')
  local same = ARGV[6] == '' or not stored or stored == '' or stored == ARGV[6]
  if status == 'pending' and tonumber(redis.call('HGET', KEYS[1], 'lease_until')) <= now and same then
    redis.call('HSET', KEYS[1], 'updated_at', ARGV[3], 'lease_until', ARGV[5])
    redis.call('HINCRBY', KEYS[1], 'attempts', 1)
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
    return {1, redis.call('HGETALL', KEYS[1])}
  end
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'status', 'pending', 'message', ARGV[2], 'created_at', ARGV[3],
  'updated_at', ARGV[3], 'expires_at', ARGV[4], 'lease_until', ARGV[5], 'digest', ARGV[6], 'attempts', 1)
redis.call('PERSIST', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if KEYS[3] then
  write_marker(KEYS[3], ARGV[1], ARGV[3], ARGV[4])
end
return 1
"""
)

# KEYS: marker. ARGV: the pointer (a dedup key), now, expires_at.
REMEMBER = (
    WRITE_MARKER
    + """
return write_marker(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
"""
)

# KEYS: record, pending index. ARGV: key, now, status. The record expires at its expires_at.
MARK_PUBLISHED = """
redis.call('ZREM', KEYS[2], ARGV[1])
local expires_at = redis.call('HGET', KEYS[1], 'expires_at')
if not expires_at then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'updated_at', ARGV[2])
local ms = math.floor((tonumber(expires_at) - tonumber(ARGV[2])) * 1000)
redis.call('PEXPIRE', KEYS[1], math.max(ms, 1))
return 1
"""

# KEYS: episode hash. ARGV: expected version, blob, ttl in ms. Store.swap_episode as one
# compare-and-swap; the record expires after ttl without notifications.
SWAP_EPISODE = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', version + 1, 'blob', ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[3]), 1))
return 1
"""
