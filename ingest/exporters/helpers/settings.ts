// The queue / retry / spill settings every queued exporter takes (the Collector's exporterhelper
// `sending_queue`, `retry_on_failure` and `timeout`). A factory spreads `defaultQueueSettings()`
// into its default config, so the keys are the same for every exporter.
import { SettingError } from '../../../src/config/merge.ts';

export interface QueueSettings {
  /** One send attempt may take this long; then it is aborted and retried. */
  timeoutMs: number;
  queue: {
    /** Items held in memory. Past it they go to the spill (or, without one, the oldest are dropped). */
    maxItems: number;
  };
  batch: {
    /** Items per send. */
    maxItems: number;
    /** A smaller batch is sent once its first item has waited this long. */
    flushIntervalMs: number;
  };
  retry: {
    initialIntervalMs: number;
    maxIntervalMs: number;
    multiplier: number;
    /** Each wait is scaled by a random factor in [1 - r, 1 + r]. */
    randomizationFactor: number;
    /** Give a batch up (counted as failed) after retrying it this long; 0 = never (the spill bound applies). */
    maxElapsedMs: number;
  };
  spill: {
    /** Keep unsent batches on disk while the backend is down or the memory queue is full. */
    enabled: boolean;
    /** One DuckDB file per exporter instance is made here. */
    directory: string;
    /** Past this the oldest spilled batches are dropped and counted. */
    maxBytes: number;
  };
  /** On shutdown, keep sending what is queued in memory for this long (then spill it). */
  shutdownTimeoutMs: number;
}

/** The least `maxRequestBytes` an exporter that bounds its requests by size (Jaeger, Elasticsearch) takes. */
const MIN_REQUEST_BYTES = 65_536;

/** Refuses a `maxRequestBytes` setting that is not an integer of at least 64 KiB, naming the key. */
export function checkMaxRequestBytes(value: number): void {
  if (!Number.isInteger(value) || value < MIN_REQUEST_BYTES) {
    throw new SettingError('maxRequestBytes', `expected an integer of at least ${MIN_REQUEST_BYTES} (actual: ${String(value)})`);
  }
}

export function defaultQueueSettings(): QueueSettings {
  return {
    timeoutMs: 5_000,
    queue: { maxItems: 65_536 },
    batch: { maxItems: 8_192, flushIntervalMs: 200 },
    retry: { initialIntervalMs: 500, maxIntervalMs: 30_000, multiplier: 1.5, randomizationFactor: 0.5, maxElapsedMs: 0 },
    spill: { enabled: true, directory: './data/spill', maxBytes: 256 * 1024 * 1024 },
    shutdownTimeoutMs: 5_000,
  };
}

/** The wait before retry number `failures` (1-based), with jitter; a server's Retry-After wins when longer. */
export function backoffMs(retry: QueueSettings['retry'], failures: number, retryAfterMs?: number, random: () => number = Math.random): number {
  const base = Math.min(retry.maxIntervalMs, retry.initialIntervalMs * retry.multiplier ** Math.max(0, failures - 1));
  const jittered = base * (1 + retry.randomizationFactor * (2 * random() - 1));
  // A Retry-After beyond five minutes is more likely a mistake than a plan; cap it.
  const after = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, 300_000);
  return Math.max(0, Math.round(Math.max(jittered, after)));
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
