// Retention: a timer that deletes rows older than each signal's window from spans (and their
// trace_ranges), logs (and their log_trace_ranges) and metric_points. Each DELETE removes at most `batchRows` rows and runs on
// the table's own write lane, so an ingest batch waits for one small step at most, never a pass;
// readers are not blocked at all (DuckDB's MVCC). Row groups left empty are dropped at checkpoint.
// After deleting spans or logs, a pass also deletes the resources and scopes no record refers to any
// more (parts.ts), at most once per PRUNE_EVERY_MS: that takes an anti-join over spans and logs.
// With semantic search on, the search documents of spans and logs go with them (same windows), and
// the texts and vectors no document refers to any more are pruned with the parts.
import type { Logger } from 'pino';
import type { MetricSample } from '../../server/metrics.ts';
import { ConfigError } from '../../config/merge.ts';
import type { GatewayConfig } from '../../config/types.ts';
import { unitDurationNs } from '../../model/duration.ts';
// connection.ts loads DuckDB's binding; the config loader imports this file for retentionPlan, so
// runQuery is imported where it runs (the store is open by then), keeping start-up off the binding.
import type { Db } from './connection.ts';

export type RetentionConfig = GatewayConfig['storage']['retention'];

/** Per table: the column compared with the cutoff, the signal whose window applies, the write lane. */
const TABLES = [
  { table: 'spans', column: 'start_ns', signal: 'traces', lane: 'spans' },
  // A trace's range goes once its newest span start is out of the window (its spans are gone too).
  // Written in the spans' transactions, so deleted on their lane.
  { table: 'trace_ranges', column: 'max_start_ns', signal: 'traces', lane: 'spans' },
  { table: 'logs', column: 'time_ns', signal: 'logs', lane: 'logs' },
  { table: 'log_trace_ranges', column: 'max_start_ns', signal: 'logs', lane: 'logs' },
  { table: 'metric_points', column: 'time_ns', signal: 'metrics', lane: 'metric_points' },
] as const;

type Signal = (typeof TABLES)[number]['signal'];

/** Per tenant, the highest log ID that retention is about to delete (see deleteOlder). */
const REMEMBER_LOG_IDS_SQL = `INSERT INTO log_id_marks SELECT tenant, max(id) FROM logs WHERE time_ns < $1 GROUP BY tenant
  ON CONFLICT (tenant) DO UPDATE SET last_id = greatest(last_id, excluded.last_id)`;

/** The part tables, pruned after the deletes (their rows go once no span or log refers to them). */
const PART_TABLES = ['resources', 'scopes'] as const;
/** Search's tables, when search is on: documents by age, texts and vectors once unreferenced. */
const SEARCH_TABLES = ['search_docs', 'search_texts', 'search_vectors'] as const;
const PRUNE_EVERY_MS = 3_600_000;
/** The longest delay setTimeout takes (2^31 − 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** '7d', '12h', '1h30m', '0' or 'off' (null: keep forever), in ms. */
function parseWindow(value: string, field: string): number | null {
  const s = value.trim();
  if (s === '0' || s === 'off') return null;
  const ns = unitDurationNs(s);
  if (ns === undefined) {
    throw new ConfigError(`${field}: expected a duration like "7d", "12h" or "1h30m", or "0"/"off" to keep data forever (actual: '${value}')`);
  }
  // Whole ms, rounded up: `500us` is a (very short) window, not "keep forever".
  return ns === 0n ? null : Number((ns + 999_999n) / 1_000_000n);
}

export interface RetentionPlan {
  /** Per signal, the window in ms; null = kept forever. */
  windows: Record<Signal, number | null>;
  intervalMs: number;
  batchRows: number;
}

/** Checks the config (ConfigError on a bad value) and resolves the per-signal windows. */
export function retentionPlan(cfg: RetentionConfig): RetentionPlan {
  const period = parseWindow(cfg.period, 'storage.retention.period');
  const windows = { traces: period, logs: period, metrics: period };
  for (const signal of ['traces', 'logs', 'metrics'] as const) {
    if (cfg[signal] !== '') windows[signal] = parseWindow(cfg[signal], `storage.retention.${signal}`);
  }
  const intervalMs = parseWindow(cfg.interval, 'storage.retention.interval');
  if (intervalMs === null) throw new ConfigError(`storage.retention.interval: must be more than 0 (actual: '${cfg.interval}')`);
  // setTimeout fires after 1 ms when given more: retention ran ~90 passes a second at 25d (storage QA).
  if (intervalMs > MAX_TIMER_MS) {
    throw new ConfigError(`storage.retention.interval: expected at most ${MAX_TIMER_MS} ms (a timer's maximum, about 24.8 days; actual: '${cfg.interval}')`);
  }
  if (!Number.isInteger(cfg.batchRows) || cfg.batchRows < 1) {
    throw new ConfigError(`storage.retention.batchRows: expected an integer greater than 0 (actual: ${cfg.batchRows})`);
  }
  return { windows, intervalMs, batchRows: cfg.batchRows };
}

export interface Retention {
  /** One pass now (after any pass already running): rows deleted per table. */
  runPass(): Promise<Record<string, number>>;
  metrics(): MetricSample[];
  /** Stops the timer and waits for a running pass to finish its current step. */
  stop(): Promise<void>;
}

export interface RetentionOptions {
  plan: RetentionPlan;
  logger: Logger;
  /** Wall clock in ms (tests may pass their own). */
  now?: () => number;
  /** Deletes resources and scopes no record refers to any more (DuckDbStore.pruneParts). */
  pruneParts?: (batchRows: number) => Promise<Record<(typeof PART_TABLES)[number], number>>;
  /** Semantic search's documents, texts and vectors (when search is on). */
  search?: SearchRetention;
}

/** What retention deletes of semantic search (VectorStore.deleteDocsBefore, SearchIndexer.prune). */
export interface SearchRetention {
  /** Deletes up to batchRows documents of the signal's records older than cutoffNs; how many. */
  deleteDocsBefore(signal: 'traces' | 'logs', cutoffNs: bigint, batchRows: number): Promise<number>;
  /** Deletes the texts and vectors no document refers to any more. */
  prune(batchRows: number): Promise<{ texts: number; vectors: number }>;
}

export function startRetention(db: Db, opts: RetentionOptions): Retention {
  const { plan, logger } = opts;
  const now = opts.now ?? Date.now;
  const deleted: Record<string, number> = Object.fromEntries(
    [...TABLES.map((t) => t.table), ...(opts.pruneParts ? PART_TABLES : []), ...(opts.search ? SEARCH_TABLES : [])].map((t) => [t, 0]),
  );
  const enabled = Object.values(plan.windows).some((w) => w !== null);
  // Parts left unreferenced by an earlier process are pruned at the first pass too.
  let unpruned = true;
  let lastPruneMs = -Infinity;
  let passes = 0;
  let failures = 0;
  let stopped = false;
  let running: Promise<Record<string, number>> = Promise.resolve({});
  let timer: NodeJS.Timeout | null = null;

  /** The time (ns) before which a record is out of a window of `windowMs`. */
  const cutoffOf = (windowMs: number) => BigInt(Math.floor(now() - windowMs)) * 1_000_000n;

  async function deleteOlder(table: string, column: string, lane: string, cutoffNs: bigint): Promise<number> {
    // rowid, not a DELETE … LIMIT (DuckDB has none): the subquery picks one step's rows.
    const sql = `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < $1 LIMIT ${plan.batchRows})`;
    const { runQuery } = await import('./connection.ts');
    // A log's ID is never reused (it is a link: LogRecord.id is stable), but the next ID is found as
    // the highest left in `logs` at open: the highest of what goes is kept first (log_id_marks).
    if (table === 'logs' && !stopped) await db.writeLane(lane).use((conn) => runQuery(conn, REMEMBER_LOG_IDS_SQL, [cutoffNs]));
    let total = 0;
    while (!stopped) {
      const [row] = await db.writeLane(lane).use((conn) => runQuery(conn, sql, [cutoffNs]));
      const n = Number(row?.Count ?? 0);
      total += n;
      deleted[table]! += n;
      if (n < plan.batchRows) break;
    }
    return total;
  }

  /** The search documents of spans and logs out of their windows, in steps. */
  async function deleteSearchDocs(search: SearchRetention, cutoffs: Record<Signal, bigint | null>): Promise<number> {
    let total = 0;
    for (const signal of ['traces', 'logs'] as const) {
      const cutoffNs = cutoffs[signal];
      if (cutoffNs === null) continue;
      while (!stopped) {
        const n = await search.deleteDocsBefore(signal, cutoffNs, plan.batchRows);
        total += n;
        if (n < plan.batchRows) break;
      }
    }
    deleted.search_docs! += total;
    return total;
  }

  async function pass(): Promise<Record<string, number>> {
    const t0 = performance.now();
    const result: Record<string, number> = {};
    // One cutoff per signal for the whole pass: with a cutoff per table, spans that started between
    // the spans' and trace_ranges' cutoffs kept their rows but lost their range row, and trace-by-id
    // could not find them until the next pass.
    const cutoffs = Object.fromEntries((['traces', 'logs', 'metrics'] as const).map((s) => [s, plan.windows[s] === null ? null : cutoffOf(plan.windows[s])])) as Record<Signal, bigint | null>;
    for (const { table, column, signal, lane } of TABLES) {
      const cutoffNs = cutoffs[signal];
      if (cutoffNs === null || stopped) continue;
      result[table] = await deleteOlder(table, column, lane, cutoffNs);
    }
    if (opts.search && (plan.windows.traces !== null || plan.windows.logs !== null)) result.search_docs = await deleteSearchDocs(opts.search, cutoffs);
    if ((result.spans ?? 0) + (result.logs ?? 0) + (result.search_docs ?? 0) > 0) unpruned = true;
    if (enabled && unpruned && !stopped && now() - lastPruneMs >= PRUNE_EVERY_MS) {
      lastPruneMs = now();
      const pruned: Record<string, number> = {};
      if (opts.pruneParts) Object.assign(pruned, await opts.pruneParts(plan.batchRows));
      if (opts.search && !stopped) {
        const { texts, vectors } = await opts.search.prune(plan.batchRows);
        Object.assign(pruned, { search_texts: texts, search_vectors: vectors });
      }
      unpruned = false;
      for (const [table, n] of Object.entries(pruned)) {
        result[table] = n;
        deleted[table]! += n;
      }
    }
    passes++;
    const rows = Object.values(result).reduce((a, b) => a + b, 0);
    if (rows > 0) logger.info({ deleted: result, ms: Math.round(performance.now() - t0) }, 'retention pass');
    return result;
  }

  function runPass(): Promise<Record<string, number>> {
    running = running.catch(() => ({})).then(pass);
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      runPass()
        .catch((err: unknown) => {
          failures++;
          logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'retention pass failed; the next pass retries');
        })
        .finally(schedule);
    }, plan.intervalMs);
    timer.unref();
  }

  if (enabled) schedule();
  logger.info({ windowsMs: plan.windows, intervalMs: plan.intervalMs }, enabled ? 'retention on' : 'retention off: data is kept forever');

  return {
    runPass,
    metrics: () => [
      ...Object.keys(deleted).map((table) => ({
        name: 'teleql_retention_deleted_rows_total',
        help: 'Rows retention deleted because they were older than their window',
        type: 'counter' as const,
        value: deleted[table]!,
        labels: { table },
      })),
      { name: 'teleql_retention_passes_total', help: 'Retention passes completed', type: 'counter' as const, value: passes },
      { name: 'teleql_retention_failures_total', help: 'Retention passes that failed (retried at the next interval)', type: 'counter' as const, value: failures },
    ],
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
