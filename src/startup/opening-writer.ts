// A StoreWriter for the time the store is still opening: the receivers listen (and acknowledge)
// before DuckDB has loaded and opened its file, so the first batches wait here for the real writer
// instead of being refused. When the store fails to open, every waiting write fails with that error
// (the app stops the process on it; see src/app.ts start).
import type { StoreWriter } from '../stores/types.ts';

export function openingWriter(opened: Promise<StoreWriter>): StoreWriter {
  let writer: StoreWriter | undefined;
  // Once open, writes go straight through (no extra await on the hot path).
  opened.then(
    (w) => (writer = w),
    () => undefined, // each waiting write rejects with the error below; the app reports it once
  );
  return {
    writeSpans: (spans) => (writer ? writer.writeSpans(spans) : opened.then((w) => w.writeSpans(spans))),
    writeLogs: (logs) => (writer ? writer.writeLogs(logs) : opened.then((w) => w.writeLogs(logs))),
    writeMetrics: (points) => (writer ? writer.writeMetrics(points) : opened.then((w) => w.writeMetrics(points))),
  };
}
