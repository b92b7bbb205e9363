// The Lua scripts of RedisForwardQueue: each step that must be atomic across instances.

/** KEYS: stream, item, exposure. ARGV: id, item JSON, maxDepth, merchant ('' for none), amount, cap. */
export const ENQUEUE_SCRIPT = `
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'queue_full' end
if ARGV[4] ~= '' then
  local current = tonumber(redis.call('HGET', KEYS[3], ARGV[4]) or '0')
  if current + tonumber(ARGV[5]) > tonumber(ARGV[6]) then return 'exposure_cap' end
  redis.call('HINCRBY', KEYS[3], ARGV[4], ARGV[5])
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'id', ARGV[1])
return 'ok'`;

/**
 * KEYS: stream, item, exposure, dead stream. ARGV: stream entry id, item JSON, retention ms,
 * merchant ('' for none), amount, dead-letter reason ('' when forwarded), queue id.
 * Leaves the queue, releases the merchant's exposure and keeps the outcome for the retention time, atomically.
 */
export const FINISH_SCRIPT = `
local removed = redis.call('XDEL', KEYS[1], ARGV[1])
if removed == 1 and ARGV[4] ~= '' then
  local left = redis.call('HINCRBY', KEYS[3], ARGV[4], -tonumber(ARGV[5]))
  if left <= 0 then redis.call('HDEL', KEYS[3], ARGV[4]) end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if ARGV[6] ~= '' and removed == 1 then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', '100000', '*', 'id', ARGV[7], 'reason', ARGV[6])
end
return removed`;

/** Takes the drain lock when free, or extends it when already ours. */
export const LOCK_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** Releases the drain lock when it is ours. */
export const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
