// Loaded into bench:query's gateway with --import: records, on the absolute clock (timeOrigin +
// now(), shared with the parent), when each DuckDB statement ran (`runAndReadAll`: execution and
// reading every chunk, not the conversion to JS rows) and when each GC pause happened, so the
// bench can split each request's latency into DuckDB, GC and the rest. 'reset' clears the records;
// 'read' replies with them over the IPC channel. The prototype is patched, not the store: the bench
// measures the gateway as users run it.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { DuckDBConnection } from '@duckdb/node-api';

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

const run = DuckDBConnection.prototype.runAndReadAll;
DuckDBConnection.prototype.runAndReadAll = async function (this: DuckDBConnection, ...args: Parameters<typeof run>) {
  const start = now();
  try {
    return await run.apply(this, args);
  } finally {
    records.statements.push({ start, end: now() });
  }
};

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
