// Cancels a running DuckDB query when its request is aborted (deadline passed, client gone):
// connection.interrupt() stops the statement running on that connection. A read lane runs one
// statement at a time, so the interrupted statement is always this request's.
import type { DuckDBConnection } from '@duckdb/node-api';
import { currentQuerySignal } from '../query-signal.ts';
import { unavailable } from './errors.ts';

function abortedError(signal: AbortSignal): Error {
  const why = signal.reason instanceof Error ? signal.reason.message : 'the request was aborted';
  return unavailable(`query interrupted: ${why}`);
}

/** Runs `query` on `conn`, interrupting it if the current request's signal fires first. */
export async function interruptible<T>(conn: DuckDBConnection, query: () => Promise<T>): Promise<T> {
  const signal = currentQuerySignal();
  if (!signal) return query();
  // Queued behind other statements and aborted meanwhile: do not start at all.
  if (signal.aborted) throw abortedError(signal);
  const onAbort = () => conn.interrupt();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await query();
  } catch (err) {
    if (signal.aborted) throw abortedError(signal);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
