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
// A write that ran out of the store's memory is split the same way at once, not retried whole:
// halves need less memory, and one record too large to write alone (a point of 400,000 buckets at
// the 64 MB default, session 33) is retried alone and then refused, instead of the whole batch
// being retried and dropped. The batch's retries share retry.maxElapsedMs.
import type { Logger } from 'pino';
import type { StoreWriter } from '../../../src/stores/types.ts';
import { permanentError, retryableError, type CreateSettings, type Exporter, type ExporterFactory, type Signal, type SignalItems } from '../../component.ts';
import type { LogRecord, MetricPoint, SpanRecord } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { StoreError } from '../../../src/stores/types.ts';
import { memoryExhausted } from '../../../src/stores/duckdb/errors.ts';
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

/** A write the store refused for good: malformed data, or one record too large for its memory. */
class RefusedWrite extends Error {}
/** A write too large for the store's free memory: tried again in halves. */
class SplitWrite extends Error {}

/** One batch's writing: its records' fates, and when its retries began (the batch gets retry.maxElapsedMs in all). */
interface BatchRun<T> {
  since: number;
  written: number;
  refused: { record: T; reason: RefusedWrite }[];
  /** Whether the latest single record refused for memory came after the retry time was spent, with no write since. */
  memoryRefusalPending: boolean;
}

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
    private readonly signal: S,
    private readonly config: DuckDbExporterConfig,
    private readonly write: (items: readonly SignalItems[S][]) => Promise<void>,
    private readonly logger: Logger,
    /** StoreWriter.splitsOnMemory, read when a write fails. */
    private readonly splitsOnMemory: () => boolean = () => false,
  ) {}

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  shutdownBegins(): void {
    // A store that cannot write (a full disk) held shutdown ~30 s per queued batch (71 s for three),
    // past the 30 s a Kubernetes pod is given: the flush gets shutdownTimeoutMs in all.
    this.giveUpAt ??= Date.now() + this.config.shutdownTimeoutMs;
  }

  async consume(items: readonly SignalItems[S][]): Promise<void> {
    const run: BatchRun<SignalItems[S]> = { since: Date.now(), written: 0, refused: [], memoryRefusalPending: false };
    try {
      await this.writeAllBut(items, run);
    } catch (err) {
      // Given up after retrying: what was neither written nor refused is lost.
      this.counts.failedBatches++;
      this.counts.refusedItems += run.refused.length;
      this.counts.failedItems += items.length - run.written;
      this.logRefused(items.length, run);
      throw err;
    }
    const refused = run.refused.length;
    if (refused === 0) return;
    this.counts.failedBatches++;
    this.counts.refusedItems += refused;
    this.counts.failedItems += refused;
    this.logRefused(items.length, run);
    const first = run.refused[0]!.reason;
    throw permanentError(`${refused} of ${items.length} records refused by the store: ${first.message}`, first.cause);
  }

  /** The records refused, by tenant and reason (not their data): whose data was lost, and why. */
  private logRefused(items: number, run: BatchRun<SignalItems[S]>): void {
    if (run.refused.length === 0) return;
    const byReason = new Map<string, Record<string, number>>();
    for (const { record, reason } of run.refused) {
      const tenants = byReason.get(reason.message) ?? {};
      tenants[record.tenant] = (tenants[record.tenant] ?? 0) + 1;
      byReason.set(reason.message, tenants);
    }
    for (const [err, tenants] of byReason) {
      this.logger.error({ signal: this.signal, items, written: run.written, refused: Object.values(tenants).reduce((a, b) => a + b, 0), tenants, err }, 'the store refused records for good; the rest of the batch was written');
    }
  }

  /** Writes the items; those the store refuses for good are found by halves and left out (in `run.refused`). */
  private async writeAllBut(items: readonly SignalItems[S][], run: BatchRun<SignalItems[S]>): Promise<void> {
    try {
      await this.writeRetrying(items, run);
    } catch (err) {
      if (!(err instanceof RefusedWrite || err instanceof SplitWrite)) throw err;
      if (items.length === 1) {
        run.refused.push({ record: items[0]!, reason: err });
        return;
      }
      const half = Math.ceil(items.length / 2);
      await this.writeAllBut(items.slice(0, half), run);
      await this.writeAllBut(items.slice(half), run);
    }
  }

  /** One write, retried while the store says it may pass; split when too large for the store's memory. */
  private async writeRetrying(items: readonly SignalItems[S][], run: BatchRun<SignalItems[S]>): Promise<void> {
    const { retry } = this.config;
    for (let failures = 1; ; failures++) {
      try {
        await this.write(items);
        run.written += items.length;
        run.memoryRefusalPending = false;
        if (failures > 1) this.logger.info({ items: items.length, attempts: failures }, 'write succeeded after retrying');
        return;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // Malformed data or our own bug: the same write would fail again.
        if (!(err instanceof StoreError && err.code === 'UNAVAILABLE')) throw new RefusedWrite(message, { cause: err });
        // Out of memory: the other statements may free some, or this write alone needs more than the
        // store has (one point of 400,000 buckets at the 64 MB default). Halves need less, and a
        // record too large alone is found instead of costing its batch (QA session 33).
        // (A store that cannot rebuild itself after a failed commit, in memory, retries it whole.)
        const memory = memoryExhausted(err) && this.splitsOnMemory();
        if (memory && items.length > 1) throw new SplitWrite(message, { cause: err });
        const wait = backoffMs(retry, failures);
        if (this.giveUpAt !== null && Date.now() + wait > this.giveUpAt) {
          throw retryableError(`${message} (the gateway is stopping: given up after ${failures} attempts, exporters.duckdb.shutdownTimeoutMs)`, err);
        }
        if (retry.maxElapsedMs > 0 && Date.now() + wait - run.since > retry.maxElapsedMs) {
          const spent = `${failures} attempts in ${Date.now() - run.since} ms`;
          // One record that found no memory for the whole retry time is refused, and the rest of its
          // batch written. A second in a row with no write between says the store has none for
          // anything: the rest is given up, as any write still failing.
          if (memory && !run.memoryRefusalPending) {
            run.memoryRefusalPending = true;
            throw new RefusedWrite(`${message} (one record, still too large for the store's free memory after ${spent})`, { cause: err });
          }
          throw retryableError(`${message} (still failing after ${spent})`, err);
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
  return new DuckDbExporter(settings.id, signal, config, writeFor(writer, signal), settings.logger, () => writer.splitsOnMemory === true);
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
