export const FORWARDED_FOR_MODES = ['append', 'replace', 'drop'] as const;
export type ForwardedForMode = (typeof FORWARDED_FOR_MODES)[number];

/**
 * Sets the X-Forwarded-For a request carries upstream. A client may send any X-Forwarded-For it
 * likes; passed on unchanged, its first entry is whatever address the client chose to claim.
 * - append: the client's list, then the address paypath received the request from (as proxies
 *   do; the processor should trust only the entries its own proxies added, from the right);
 * - replace: only the address paypath received the request from;
 * - drop: none.
 * Without a known peer address, none is sent: a client's claim never goes on without the real
 * address after it.
 */
export function setForwardedFor(
  headers: Headers,
  mode: ForwardedForMode,
  peer: string | undefined,
): void {
  const claimed = headers.get('x-forwarded-for');
  headers.delete('x-forwarded-for');
  if (mode === 'drop' || peer === undefined || peer === '') return;
  headers.set(
    'x-forwarded-for',
    mode === 'append' && claimed !== null && claimed.trim() !== '' ? `${claimed}, ${peer}` : peer,
  );
}
