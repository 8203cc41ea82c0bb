// Polls until `check` returns a value that passes `done` (ingest is acknowledged before it is
// written, so tests wait for the store instead of sleeping a fixed time).
export async function waitFor<T>(check: () => Promise<T>, done: (v: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (done(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}${lastErr ? `; last error: ${String(lastErr)}` : ''}`);
}
