// Writes each batch to the embedded DuckDB store through its StoreWriter. The store is opened by
// the app (the query side reads the same instance), so the factory is made around its writer.
import type { StoreWriter } from '../../../src/stores/types.ts';
import { permanentError, retryableError, type Exporter, type ExporterFactory, type Signal, type SignalItems } from '../../component.ts';
import type { LogRecord, MetricPoint, SpanRecord } from '../../../src/model/telemetry.ts';
import { StoreError } from '../../../src/stores/types.ts';

export type DuckDbExporterConfig = Record<string, never>;

function writeFor<S extends Signal>(writer: StoreWriter, signal: S): (items: readonly SignalItems[S][]) => Promise<void> {
  switch (signal) {
    case 'traces':
      return (items) => writer.writeSpans(items as readonly SpanRecord[]);
    case 'logs':
      return (items) => writer.writeLogs(items as readonly LogRecord[]);
    default:
      return (items) => writer.writeMetrics(items as readonly MetricPoint[]);
  }
}

export function duckDbExporterFactory(writer: StoreWriter): ExporterFactory<DuckDbExporterConfig> {
  return {
    kind: 'exporter',
    type: 'duckdb',
    signals: ['traces', 'logs', 'metrics'],
    createDefaultConfig: () => ({}),
    create<S extends Signal>(_settings: unknown, _config: DuckDbExporterConfig, signal: S): Exporter<S> {
      const write = writeFor(writer, signal);
      return {
        start: async () => {},
        shutdown: async () => {},
        async consume(items) {
          try {
            await write(items);
          } catch (err) {
            // A closed database may come back; malformed data will not.
            if (err instanceof StoreError && err.code === 'UNAVAILABLE') throw retryableError(err.message, err);
            throw permanentError(err instanceof Error ? err.message : String(err), err);
          }
        },
      };
    },
  };
}
