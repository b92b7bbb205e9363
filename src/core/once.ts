/** `fn` wrapped so that only its first call runs: release handles that may be called twice. */
export function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}
