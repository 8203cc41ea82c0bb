// Batches items in front of an exporter (the Collector's batchprocessor): acknowledges on enqueue,
// sends when `sendBatchSize` items are waiting or the oldest has waited `timeoutMs`, one send at a
// time so order is kept. A batch is never sent short just because the previous send finished: for
// DuckDB a full batch is one compressed row group written once, while short ones go through the WAL
// and are compressed again at the next checkpoint (measured: ~35% more CPU per span at 5,000). Memory is bounded: a consume that would pass `maxQueuedItems` waits for the queue to drain
// (the client sees latency, not an error) for up to `maxWaitMs`, and is then refused as retryable,
// which the OTLP receiver turns into 503/UNAVAILABLE. Shutdown sends everything still queued.
import type { Logger } from 'pino';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { deferred } from '../../helpers/deferred.ts';
import { retryableError, type Consumer, type Host, type Processor, type Signal, type SignalItems } from '../../component.ts';

export interface BatchProcessorConfig {
  sendBatchSize: number;
  timeoutMs: number;
  maxQueuedItems: number;
  maxWaitMs: number;
}

export interface BatchProcessorStats {
  queued: number;
  sent: number;
  failed: number;
  refused: number;
}

class BatchProcessor<S extends Signal> implements Processor<S> {
  private queue: SignalItems[S][] = [];
  /** When each consume's items arrived (oldest first): the oldest waiting item's age starts the timeout. */
  private arrivals: { n: number; at: number }[] = [];
  /** Send what waits even if short: the oldest waited `timeoutMs`, or a flush or a full queue asks. */
  private due = false;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private stopped = false;
  /** Settles after each batch is sent, so callers waiting for room wake as soon as some appears. */
  private batchDone = deferred();
  private readonly counts = { sent: 0, failed: 0, refused: 0 };

  constructor(
    private readonly id: string,
    private readonly config: BatchProcessorConfig,
    private readonly next: Consumer<S>,
    private readonly logger: Logger,
  ) {}

  async start(_host: Host): Promise<void> {
    this.stopped = false;
  }

  async consume(items: readonly SignalItems[S][]): Promise<void> {
    if (items.length === 0) return;
    if (this.stopped) throw retryableError('the gateway is shutting down');
    if (this.queue.length + items.length > this.config.maxQueuedItems && !(await this.roomFor(items.length))) {
      this.counts.refused += items.length;
      throw retryableError(`ingest queue is full (${this.queue.length} items waiting, limit ${this.config.maxQueuedItems})`);
    }
    for (const item of items) this.queue.push(item);
    this.arrivals.push({ n: items.length, at: Date.now() });
    if (this.queue.length >= this.config.sendBatchSize) this.kick();
    else this.arm();
  }

  /** Sets the timer for the oldest waiting item, unless one is set. */
  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    const wait = Math.max(0, this.arrivals[0]!.at + this.config.timeoutMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.kick();
    }, wait);
  }

  /** Drops the arrival records of the `n` items just taken from the head of the queue. */
  private taken(n: number): void {
    while (n > 0 && this.arrivals.length > 0) {
      const head = this.arrivals[0]!;
      if (head.n > n) {
        head.n -= n;
        return;
      }
      n -= head.n;
      this.arrivals.shift();
    }
  }

  /** Waits until `n` more items fit (or the queue is empty: one oversized request still goes in). */
  private async roomFor(n: number): Promise<boolean> {
    const deadline = Date.now() + this.config.maxWaitMs;
    while (this.queue.length > 0 && this.queue.length + n > this.config.maxQueuedItems) {
      const left = deadline - Date.now();
      if (this.stopped || left <= 0) return false;
      this.due = true; // room is needed now: a short batch is better than a refusal
      this.kick();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.batchDone.promise, new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
    return !this.stopped;
  }

  stats(): BatchProcessorStats {
    return { queued: this.queue.length, ...this.counts };
  }

  metrics(): MetricSample[] {
    const labels = { component: this.id };
    return [
      { name: 'teleql_batch_queue_items', help: 'Items waiting to be sent to the exporters', type: 'gauge', value: this.queue.length, labels },
      { name: 'teleql_batch_sent_items_total', help: 'Items handed to the exporters', type: 'counter', value: this.counts.sent, labels },
      { name: 'teleql_batch_failed_items_total', help: 'Acknowledged items the exporters failed to take (lost)', type: 'counter', value: this.counts.failed, labels },
      { name: 'teleql_batch_refused_items_total', help: 'Items refused because the queue was full (client told to retry)', type: 'counter', value: this.counts.refused, labels },
    ];
  }

  /** Starts a send loop unless one runs; the loop sends full batches, and short ones while `due`. */
  private kick(): void {
    this.sending ??= this.drain().finally(() => {
      this.sending = undefined;
      if (this.queue.length >= this.config.sendBatchSize || (this.due && this.queue.length > 0)) this.kick();
      else this.arm();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length >= this.config.sendBatchSize || (this.due && this.queue.length > 0)) {
      const batch = this.queue.splice(0, this.config.sendBatchSize);
      this.taken(batch.length);
      // The timer was for an item now sent: it is set again for the new oldest when the loop ends.
      clearTimeout(this.timer);
      this.timer = undefined;
      if (this.queue.length === 0) this.due = false; // what was due went out, newer items with it
      try {
        await this.next.consume(batch);
        this.counts.sent += batch.length;
      } catch (err) {
        // Already acknowledged to the client: all we can do is count and say why.
        this.counts.failed += batch.length;
        this.logger.error({ err, items: batch.length }, 'batch export failed; items dropped');
      }
      this.batchDone.resolve();
      this.batchDone = deferred();
    }
  }

  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.sending) {
      if (this.queue.length > 0) this.due = true;
      if (!this.sending) this.kick();
      await this.sending;
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

export type BatchingProcessor<S extends Signal> = Processor<S> & { stats(): BatchProcessorStats; metrics(): MetricSample[]; flush(): Promise<void> };

export function createBatchProcessor<S extends Signal>(id: string, config: BatchProcessorConfig, next: Consumer<S>, logger: Logger): BatchingProcessor<S> {
  return new BatchProcessor(id, config, next, logger);
}
