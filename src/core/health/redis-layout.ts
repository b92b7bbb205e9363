import type { HealthStoreMember, PathHealthEvent } from './health-store.ts';

/**
 * The Redis layout of shared health, used by the Node store (ioredis) and the Worker (RESP over
 * cloudflare:sockets) alike, so instances on both runtimes share one state.
 * Every key shares the hash tag `{paypath:health}`, so all of them live in one Cluster slot and the
 * multi-key script below works on a Redis Cluster as on a single server.
 */
export const HEALTH_KEY_PREFIX = 'paypath:{paypath:health}';
export const HEALTH_STATE_KEY = `${HEALTH_KEY_PREFIX}:state`;
export const HEALTH_CHANNEL = `${HEALTH_KEY_PREFIX}:transitions`;
export const healthReportersKey = (pathId: string) => `${HEALTH_KEY_PREFIX}:failing:${pathId}`;
export const healthTrialKey = (pathId: string) => `${HEALTH_KEY_PREFIX}:trial:${pathId}`;

/**
 * Records a transition and publishes it, in one round trip.
 * `open`: the instance joins the path's failing reporters (a sorted set scored by time, entries
 * older than the report TTL dropped); the opening is stored and published only once `quorum`
 * instances report it. `closed`: the reporters are cleared, the state stored and published.
 * KEYS: state hash, reporters zset. ARGV: path, state, event JSON, instance, now, ttl, quorum, channel.
 */
export const HEALTH_RECORD_SCRIPT = `
local path, state, event, instance = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, ttl, quorum = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if state == 'open' then
  redis.call('ZADD', KEYS[2], now, instance)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  local reporters = redis.call('ZCARD', KEYS[2])
  if reporters < quorum then return reporters end
else
  redis.call('DEL', KEYS[2])
end
redis.call('HSET', KEYS[1], path, event)
redis.call('PUBLISH', ARGV[8], event)
return -1
`;

/** KEYS then ARGV of HEALTH_RECORD_SCRIPT for one transition (2 keys). */
export function healthRecordArgs(
  event: PathHealthEvent,
  now: number,
  reportTtlMs: number,
  quorum: number,
): (string | number)[] {
  return [
    HEALTH_STATE_KEY,
    healthReportersKey(event.pathId),
    event.pathId,
    event.state,
    JSON.stringify(event),
    event.instanceId,
    now,
    reportTtlMs,
    quorum,
    HEALTH_CHANNEL,
  ];
}

/** Parses a stored or published transition; undefined for anything malformed. */
export function parseHealthEvent(json: string): PathHealthEvent | undefined {
  try {
    const value = JSON.parse(json) as Partial<PathHealthEvent>;
    if (typeof value.pathId !== 'string' || (value.state !== 'open' && value.state !== 'closed'))
      return undefined;
    if (typeof value.at !== 'number' || typeof value.instanceId !== 'string') return undefined;
    return {
      pathId: value.pathId,
      state: value.state,
      reason: String(value.reason ?? ''),
      at: value.at,
      instanceId: value.instanceId,
    };
  } catch {
    return undefined;
  }
}

/**
 * Applies the stored transitions (the state hash's values) that another instance made after this
 * member's own last transition of that path.
 */
export function applyNewerStored(member: HealthStoreMember, storedJson: Iterable<string>): void {
  const local = new Map(member.localStates().map((e) => [e.pathId, e]));
  for (const json of storedJson) {
    const remote = parseHealthEvent(json);
    const mine = remote ? local.get(remote.pathId) : undefined;
    if (remote && remote.instanceId !== member.instanceId && (!mine || remote.at > mine.at))
      member.apply(remote);
  }
}
