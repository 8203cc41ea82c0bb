// Writes each batch to the embedded DuckDB store through its StoreWriter. The store is opened by
// the app (the query side reads the same instance), so the factory is made around its writer.
//
// Every batch reaching here was already acknowledged to its client, so a write that may succeed
// later (UNAVAILABLE: the buffer pool full, a write-write conflict, an I/O error) is retried here
// with backoff, like the Collector's retry_on_failure; each attempt is its own transaction, rolled
// back on failure, so a retry never writes a row twice. While it retries, the batch processor's
// queue fills and clients are told to retry (503/UNAVAILABLE): backpressure instead of loss.
//
// A write refused for good (a value DuckDB cannot take) is narrowed down by halves to the records
// that cause it: a batch holds many clients' records, every tenant's, and one bad record must not
// cost the others (session 27: one out-of-range bucket count dropped a whole batch of metrics).
import type { Logger } from 'pino';
import type { StoreWriter } from '../../../src/stores/types.ts';
import { permanentError, retryableError, type CreateSettings, type Exporter, type ExporterFactory, type Signal, type SignalItems } from '../../component.ts';
import type { LogRecord, MetricPoint, SpanRecord } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { StoreError } from '../../../src/stores/types.ts';
import { backoffMs, type QueueSettings } from '../helpers/settings.ts';

export interface DuckDbExporterConfig {
  /** Retries of a write DuckDB refused for a reason that may pass; `maxElapsedMs` 0 = never give up. */
  retry: QueueSettings['retry'];
  /** Once the gateway stops, how long writes that keep failing are still retried, in all (as the other exporters' flush). */
  shutdownTimeoutMs: number;
}

export interface DuckDbExporterStats {
  /** Write attempts refused and tried again. */
  retries: number;
  /** Batches given up whole or in part (permanent error, or still failing after `retry.maxElapsedMs`). */
  failedBatches: number;
  /** Records the store refused for good, found by halving the batch (the rest of it was written). */
  refusedItems: number;
  /** Records not written: those refused for good, and every record of a batch given up after its retries (the batch processor drops it). */
  failedItems: number;
}

/** A write the store refused for a reason that will not pass (not UNAVAILABLE). */
class RefusedWrite extends Error {}

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

class DuckDbExporter<S extends Signal> implements Exporter<S> {
  private readonly counts: DuckDbExporterStats = { retries: 0, failedBatches: 0, refusedItems: 0, failedItems: 0 };
  /** Set when the pipelines begin to stop: retrying ends then, whatever `retry.maxElapsedMs` says. */
  private giveUpAt: number | null = null;

  constructor(
    private readonly id: string,
    private readonly config: DuckDbExporterConfig,
    private readonly write: (items: readonly SignalItems[S][]) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  shutdownBegins(): void {
    // A store that cannot write (a full disk) held shutdown ~30 s per queued batch (71 s for three),
    // past the 30 s a Kubernetes pod is given: the flush gets shutdownTimeoutMs in all.
    this.giveUpAt ??= Date.now() + this.config.shutdownTimeoutMs;
  }

  async consume(items: readonly SignalItems[S][]): Promise<void> {
    let refused: { count: number; first: RefusedWrite } | null;
    try {
      refused = await this.writeAllBut(items);
    } catch (err) {
      this.counts.failedBatches++;
      this.counts.failedItems += items.length;
      throw err;
    }
    if (!refused) return;
    this.counts.failedBatches++;
    this.counts.refusedItems += refused.count;
    this.counts.failedItems += refused.count;
    this.logger.error({ items: items.length, refused: refused.count, err: refused.first.message }, 'the store refused records for good; the rest of the batch was written');
    throw permanentError(`${refused.count} of ${items.length} records refused by the store: ${refused.first.message}`, refused.first.cause);
  }

  /** Writes the items; those the store refuses for good are found by halves and left out (returned as a count). */
  private async writeAllBut(items: readonly SignalItems[S][]): Promise<{ count: number; first: RefusedWrite } | null> {
    try {
      await this.writeRetrying(items);
      return null;
    } catch (err) {
      if (!(err instanceof RefusedWrite)) throw err;
      if (items.length === 1) return { count: 1, first: err };
      const half = Math.ceil(items.length / 2);
      const a = await this.writeAllBut(items.slice(0, half));
      const b = await this.writeAllBut(items.slice(half));
      return a && b ? { count: a.count + b.count, first: a.first } : (a ?? b);
    }
  }

  /** One write, retried while the store says it may pass. */
  private async writeRetrying(items: readonly SignalItems[S][]): Promise<void> {
    const { retry } = this.config;
    const since = Date.now();
    for (let failures = 1; ; failures++) {
      try {
        await this.write(items);
        if (failures > 1) this.logger.info({ items: items.length, attempts: failures }, 'write succeeded after retrying');
        return;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // Malformed data or our own bug: the same write would fail again.
        if (!(err instanceof StoreError && err.code === 'UNAVAILABLE')) throw new RefusedWrite(message, { cause: err });
        const wait = backoffMs(retry, failures);
        if (this.giveUpAt !== null && Date.now() + wait > this.giveUpAt) {
          throw retryableError(`${message} (the gateway is stopping: given up after ${failures} attempts, exporters.duckdb.shutdownTimeoutMs)`, err);
        }
        if (retry.maxElapsedMs > 0 && Date.now() + wait - since > retry.maxElapsedMs) {
          throw retryableError(`${message} (still failing after ${failures} attempts in ${Date.now() - since} ms)`, err);
        }
        this.counts.retries++;
        this.logger.warn({ items: items.length, attempt: failures, retryInMs: wait, err: message }, 'write failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  stats(): DuckDbExporterStats {
    return { ...this.counts };
  }

  metrics(): MetricSample[] {
    const labels = { component: this.id };
    return [
      { name: 'teleql_duckdb_write_retries_total', help: 'Store writes refused for a reason that may pass, and tried again', type: 'counter', value: this.counts.retries, labels },
      { name: 'teleql_duckdb_failed_batches_total', help: 'Acknowledged batches the store did not take whole (records refused for good, or retries exhausted)', type: 'counter', value: this.counts.failedBatches, labels },
      { name: 'teleql_duckdb_refused_records_total', help: 'Acknowledged records the store refused for good; the rest of their batches was written', type: 'counter', value: this.counts.refusedItems, labels },
    ];
  }
}

export type DuckDbExporterOf<S extends Signal> = Exporter<S> & { stats(): DuckDbExporterStats; metrics(): MetricSample[]; shutdownBegins(): void };

/** The stats of a pipeline component when it is a DuckDB exporter (for the store's `backends` entry). */
export function duckDbExporterStats(component: unknown): DuckDbExporterStats | undefined {
  return component instanceof DuckDbExporter ? component.stats() : undefined;
}

export function createDuckDbExporter<S extends Signal>(settings: CreateSettings, config: DuckDbExporterConfig, writer: StoreWriter, signal: S): DuckDbExporterOf<S> {
  return new DuckDbExporter(settings.id, config, writeFor(writer, signal), settings.logger);
}

export function duckDbExporterFactory(writer: StoreWriter): ExporterFactory<DuckDbExporterConfig> {
  return {
    kind: 'exporter',
    type: 'duckdb',
    signals: ['traces', 'logs', 'metrics'],
    // Short first waits: a full pool or a conflict usually clears within one batch's time. Past 30 s
    // the batch is given up (counted and logged) so that a broken store cannot hold shutdown for ever.
    createDefaultConfig: () => ({
      retry: { initialIntervalMs: 100, maxIntervalMs: 5_000, multiplier: 2, randomizationFactor: 0.5, maxElapsedMs: 30_000 },
      shutdownTimeoutMs: 5_000,
    }),
    create: (settings, config, signal) => createDuckDbExporter(settings, config, writer, signal),
  };
}
