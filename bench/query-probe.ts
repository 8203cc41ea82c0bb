// Loaded into bench:query's gateway with --import: records, on the absolute clock (timeOrigin +
// now(), shared with the parent), when each DuckDB statement was prepared and ran (`prepare`,
// `run`: execution, materializing the result; not the conversion to JS rows) and when each GC pause happened, so the
// bench can split each request's latency into DuckDB, GC and the rest. 'reset' clears the records;
// 'read' replies with them over the IPC channel. The prototype is patched, not the store: the bench
// measures the gateway as users run it.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { DuckDBConnection, DuckDBPreparedStatement } from '@duckdb/node-api';

export interface Interval {
  start: number;
  end: number;
}
export interface ProbeRecords {
  statements: Interval[];
  gc: Interval[];
}

const now = () => performance.timeOrigin + performance.now();
let records: ProbeRecords = { statements: [], gc: [] };

/** Wraps `proto[name]` so each call's interval is recorded. */
function timed<T extends object>(proto: T, name: keyof T & string): void {
  const original = proto[name] as (...args: unknown[]) => Promise<unknown>;
  Object.assign(proto, {
    [name]: async function (this: T, ...args: unknown[]) {
      const start = now();
      try {
        return await original.apply(this, args);
      } finally {
        records.statements.push({ start, end: now() });
      }
    },
  });
}
// Reads run prepared statements (src/stores/duckdb/prepared-reads.ts): their preparation and runs.
// `run` materializes the whole result (its chunks are then read synchronously, connection.ts resultRows).
timed(DuckDBConnection.prototype, 'run');
timed(DuckDBConnection.prototype, 'prepare');
timed(DuckDBPreparedStatement.prototype, 'run');

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) records.gc.push({ start: performance.timeOrigin + e.startTime, end: performance.timeOrigin + e.startTime + e.duration });
}).observe({ entryTypes: ['gc'] });

/** The records so far, and a fresh start (for a gateway in the bench's own process). */
export function takeRecords(): ProbeRecords {
  const taken = records;
  records = { statements: [], gc: [] };
  return taken;
}

process.on('message', (msg) => {
  if (msg === 'reset') records = { statements: [], gc: [] };
  else if (msg === 'read') process.send?.({ probe: records });
});
// The IPC channel must not keep the gateway alive on its own.
process.channel?.unref();
