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
 * A transition older than the one stored for its path changes nothing (returns -2): an instance
 * writing again what it saw while Redis was away must not replace what another saw since.
 * `open`: the instance joins the path's failing reporters (a sorted set scored by time, entries
 * older than the report TTL dropped); the opening is stored and published only once `quorum`
 * instances report it. `closed`: the reporters are cleared, the state stored and published.
 * KEYS: state hash, reporters zset. ARGV: path, state, event JSON, instance, now, ttl, quorum,
 * channel, the transition's time.
 */
export const HEALTH_RECORD_SCRIPT = `
local path, state, event, instance = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, ttl, quorum, at = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[9])
local stored = redis.call('HGET', KEYS[1], path)
if stored then
  local ok, previous = pcall(cjson.decode, stored)
  if ok and type(previous) == 'table' and tonumber(previous.at) and tonumber(previous.at) > at then
    return -2
  end
end
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
    event.at,
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
 * Whether another instance's transition is newer than this member's last transition of its path
 * (made or applied). Only such a one may be applied: one published late (written again after
 * Redis came back) must not undo what this instance saw or learned since.
 */
export function newerThanLocal(member: HealthStoreMember, event: PathHealthEvent): boolean {
  if (event.instanceId === member.instanceId) return false;
  const mine = member.localStates().find((e) => e.pathId === event.pathId);
  return !mine || event.at > mine.at;
}

/** Applies the stored transitions (the state hash's values) newer than this member's own. */
export function applyNewerStored(member: HealthStoreMember, storedJson: Iterable<string>): void {
  for (const json of storedJson) {
    const remote = parseHealthEvent(json);
    if (remote && newerThanLocal(member, remote)) member.apply(remote);
  }
}
