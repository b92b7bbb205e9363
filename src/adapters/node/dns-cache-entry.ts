import type { Answer } from './dns-query.ts';
import type { DnsNameState } from './path-resolver-types.ts';

/** What a PathResolver keeps of one name it looks up. */
export interface CacheEntry {
  hostname: string;
  answer?: Answer;
  refreshing?: Promise<Answer>;
  timer?: ReturnType<typeof setTimeout>;
  failures: number;
  lastError?: { code: string; message: string; at: number; notFound: boolean };
  /** Round-robin position over the answer's addresses, for single-address lookups. */
  next: number;
  /** Lookups of the name (each new connection makes one), and those that had to wait for a DNS answer. */
  lookups: number;
  waited: number;
  /** When the current run of failed lookups began. */
  failingSince?: number;
}

/** What /status shows of a cached name at `now`. */
export function nameState(entry: CacheEntry, now: number): DnsNameState {
  const answer = entry.answer;
  const state: DnsNameState = {
    hostname: entry.hostname,
    addresses: answer?.addresses.map((a) => a.address) ?? [],
    stale: answer !== undefined && now > answer.receivedAt + answer.ttlMs,
    lookups: entry.lookups,
    waited: entry.waited,
  };
  if (answer) {
    state.ageMs = now - answer.receivedAt;
    state.ttlMs = answer.ttlMs;
  }
  if (entry.lastError)
    state.lastError = {
      code: entry.lastError.code,
      message: entry.lastError.message,
      ageMs: now - entry.lastError.at,
    };
  return state;
}
