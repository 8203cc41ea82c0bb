// A StoreWriter for the time the store is still opening: the receivers listen (and acknowledge)
// before DuckDB has loaded and opened its file, so the first batches wait here for the real writer
// instead of being refused. When the store fails to open, every waiting write fails with that error
// (the app stops the process on it; see src/app.ts start).
import { StoreError, type StoreWriter } from '../stores/types.ts';

export function openingWriter(opened: Promise<StoreWriter>): StoreWriter {
  let writer: StoreWriter | undefined;
  // A store that did not open will not open on a retry (a lock another process holds, a file of
  // another layout): the waiting batches fail at once, permanently, rather than being retried for
  // the exporter's 30 s while the process is stopping.
  const failed = opened.then(
    (w) => (writer = w),
    (err: unknown) => {
      const why = err instanceof Error ? err.message : String(err);
      throw new StoreError('INTERNAL', 'duckdb', `the DuckDB store did not open (${why}); batches acknowledged during start-up are not stored`, err);
    },
  );
  failed.catch(() => undefined); // each waiting write rejects with it; the app reports the open error once
  return {
    get splitsOnMemory() {
      return writer?.splitsOnMemory;
    },
    writeSpans: (spans) => (writer ? writer.writeSpans(spans) : failed.then((w) => w.writeSpans(spans))),
    writeLogs: (logs) => (writer ? writer.writeLogs(logs) : failed.then((w) => w.writeLogs(logs))),
    writeMetrics: (points) => (writer ? writer.writeMetrics(points) : failed.then((w) => w.writeMetrics(points))),
  };
}
