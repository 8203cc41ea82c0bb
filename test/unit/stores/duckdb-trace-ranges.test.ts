// Trace-by-id through trace_ranges: traces whose spans arrive in batches far apart, the same trace
// ID in two tenants, the narrowed scan in the plan, files from before the table existed, and the
// retention config's checks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../../../src/config/load.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';
import { bindParams, runQuery } from '../../../src/stores/duckdb/connection.ts';
import { params } from '../../../src/stores/duckdb/filter-sql.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { retentionPlan } from '../../../src/stores/duckdb/retention.ts';
import { traceRanges } from '../../../src/stores/duckdb/trace-ranges.ts';
import { spansByTraceIdSql } from '../../../src/stores/duckdb/trace-store.ts';
import { log, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { tempStorePaths } from '../../helpers/temp-store.ts';

const tempPath = tempStorePaths('ranges');

const open = (path = ':memory:') => openDuckDbStore({ path, logger: silentLogger(), threads: 2 });
// Random-looking IDs, so trace_key differs between traces as it does for real ones.
const hashed = (n: number) => createHash('md5').update(traceId(n)).digest('hex');
const HOUR = 3_600_000_000_000n;

/** `count` filler spans of their own traces, starting at `startNs`, 1 µs apart. */
function filler(tenant: string, firstTrace: number, count: number, startNs: bigint): SpanRecord[] {
  return Array.from({ length: count }, (_, i) =>
    span({ tenant, traceId: hashed(firstTrace + Math.floor(i / 10)), spanId: spanId(i + 1), startTimeUnixNano: startNs + BigInt(i) * 1000n }),
  );
}

describe('trace_ranges', () => {
  it('aggregates one range per tenant and trace from a batch', () => {
    const spans = [
      span({ tenant: 'a', traceId: hashed(1), startTimeUnixNano: T0 + 5n }),
      span({ tenant: 'a', traceId: hashed(1), startTimeUnixNano: T0 + 1n }),
      span({ tenant: 'a', traceId: hashed(1), startTimeUnixNano: T0 + 9n }),
      span({ tenant: 'b', traceId: hashed(1), startTimeUnixNano: T0 + 7n }),
      span({ tenant: 'a', traceId: hashed(2), startTimeUnixNano: T0 }),
    ];
    assert.deepEqual(traceRanges(spans), [
      { tenant: 'a', traceId: hashed(1), minStartNs: T0 + 1n, maxStartNs: T0 + 9n },
      { tenant: 'b', traceId: hashed(1), minStartNs: T0 + 7n, maxStartNs: T0 + 7n },
      { tenant: 'a', traceId: hashed(2), minStartNs: T0, maxStartNs: T0 },
    ]);
  });

  it('finds every span of a trace whose batches arrived hours apart, per tenant, through every lookup', async () => {
    const store = await open(tempPath());
    const id = hashed(1);
    const early = span({ tenant: 'shop', traceId: id, spanId: spanId(9001), name: 'early', startTimeUnixNano: T0 });
    const late = span({ tenant: 'shop', traceId: id, spanId: spanId(9002), parentSpanId: spanId(9001), name: 'late', startTimeUnixNano: T0 + 5n * HOUR, endTimeUnixNano: T0 + 5n * HOUR + 1000n });
    const other = span({ tenant: 'bank', traceId: id, spanId: spanId(9003), name: 'bank', startTimeUnixNano: T0 + 2n * HOUR });
    // Several row groups of other traces between the two batches of the trace.
    await store.writer.writeSpans([early, ...filler('shop', 100, 20_000, T0 + 1000n)]);
    await store.writer.writeSpans(filler('shop', 10_000, 40_000, T0 + HOUR));
    await store.writer.writeSpans([other, ...filler('bank', 20_000, 1_000, T0 + 2n * HOUR)]);
    await store.writer.writeSpans([late, ...filler('shop', 30_000, 20_000, T0 + 5n * HOUR + 1000n)]);

    const [shop, missing] = await store.traces.getTraces('shop', [id.toUpperCase(), hashed(999_999)]);
    assert.deepEqual(shop!.map((s) => s.name), ['early', 'late']);
    assert.deepEqual(missing, []);
    const [bank] = await store.traces.getTraces('bank', [id]);
    assert.deepEqual(bank!.map((s) => s.name), ['bank']);
    assert.deepEqual((await store.traces.getTraces('nobody', [id]))[0], []);

    // Two traces far apart in one call (the DataLoader batches them).
    const [a, b] = await store.traces.getTraces('shop', [id, hashed(30_000)]);
    assert.equal(a!.length, 2);
    assert.equal(b!.length, 10);

    const found = await store.traces.getSpans('shop', [
      { traceId: id, spanId: spanId(9002) },
      { traceId: id, spanId: spanId(9003) }, // bank's span: not shop's
    ]);
    assert.equal(found[0]?.name, 'late');
    assert.equal(found[1], null);

    const [summary] = await store.traces.searchTraces('shop', { name: ['late'] }, 5);
    assert.equal(summary!.traceId, id);
    assert.equal(summary!.spanCount, 2);
    assert.equal(summary!.startTimeUnixNano, T0);

    // spans(filter: { traceId }) goes through the same ranges.
    const page = await store.traces.searchSpans('shop', { traceId: [id.toUpperCase()] }, { first: 10 });
    assert.deepEqual(page.items.map((e) => e.node.name).sort(), ['early', 'late']);
    assert.deepEqual((await store.traces.searchSpans('shop', { traceId: [hashed(999_999)] }, { first: 10 })).items, []);
    await store.close();
  });

  it('finds every log of a trace whose logs arrived hours apart, through log_trace_ranges', async () => {
    const store = await open(tempPath());
    const id = hashed(1);
    const logOf = (tenant: string, trace: string, n: number, t: bigint, body: string) =>
      log({ tenant, traceId: trace, spanId: spanId(n), timeUnixNano: t, observedTimeUnixNano: t, body: { stringValue: body } });
    const fillerLogs = (tenant: string, first: number, count: number, t: bigint) =>
      Array.from({ length: count }, (_, i) => logOf(tenant, hashed(first + i), i + 1, t + BigInt(i) * 1000n, 'filler'));
    await store.writer.writeLogs([logOf('shop', id, 1, T0, 'early'), ...fillerLogs('shop', 100, 20_000, T0 + 1000n)]);
    await store.writer.writeLogs(fillerLogs('shop', 30_000, 20_000, T0 + HOUR));
    await store.writer.writeLogs([logOf('bank', id, 3, T0 + 2n * HOUR, 'bank'), logOf('shop', id, 2, T0 + 5n * HOUR, 'late')]);
    const body = (l: { body: unknown }) => (l.body as { stringValue: string }).stringValue;
    const [shop, none] = await store.logs.logsForTraces('shop', [id.toUpperCase(), hashed(999_999)], 10);
    assert.deepEqual(shop!.map(body), ['early', 'late']);
    assert.deepEqual(none, []);
    const [late] = await store.logs.logsForSpans('shop', [{ traceId: id, spanId: spanId(2) }], 10);
    assert.deepEqual(late!.map(body), ['late']);
    const page = await store.logs.searchLogs('bank', { traceId: [id] }, { first: 10 });
    assert.deepEqual(page.items.map((e) => body(e.node)), ['bank']);
    const [row] = await store.db.query(`SELECT count(*) AS n FROM log_trace_ranges WHERE trace_id = $1`, [id]);
    assert.equal(Number(row!.n), 3, 'one range per tenant, trace and batch');
    await store.close();
  });

  it('reads one row group of spans for a trace, not the table (zone maps on the joined range)', async () => {
    const path = tempPath();
    const store = await open(path);
    // 4 batches of 16,384 spans (one row group each), later batches later in time.
    for (let b = 0; b < 4; b++) await store.writer.writeSpans(filler('z', 1 + b * 2000, 16_384, T0 + BigInt(b) * HOUR));
    await store.close();
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run(`PRAGMA enable_profiling = 'json'`);
    await conn.run(`PRAGMA custom_profiling_settings = '{"CUMULATIVE_ROWS_SCANNED": "true"}'`);
    const p = params(['z']);
    const sql = spansByTraceIdSql('tenant, trace_id, span_id', [hashed(1 + 2 * 2000 + 7)], p);
    const { values, types } = bindParams(p.values);
    const [[, profile]] = (await conn.runAndReadAll(`EXPLAIN ANALYZE ${sql}`, values, types)).getRows() as [[unknown, string]];
    const rows = await runQuery(conn, sql, p.values);
    conn.closeSync();
    instance.closeSync();
    assert.equal(rows.length, 10);
    const scanned = (JSON.parse(profile) as { cumulative_rows_scanned: number }).cumulative_rows_scanned;
    // All of trace_ranges (one row per trace and batch: 4 × 1,639) plus one row group of spans; the
    // old trace_key scan read all 65,536 spans.
    assert.ok(scanned <= 4 * 1_639 + 16_384, `rows scanned: ${scanned}`);
  });

  it('fills trace_ranges once from the spans of a file written before it existed', async () => {
    const path = tempPath();
    const first = await open(path);
    await first.writer.writeSpans([span({ tenant: 'old', traceId: hashed(5), name: 'kept' }), ...filler('old', 100, 100, T0)]);
    await first.close();
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run('DROP TABLE trace_ranges');
    conn.closeSync();
    instance.closeSync();

    const reopened = await open(path);
    const [trace] = await reopened.traces.getTraces('old', [hashed(5)]);
    assert.deepEqual(trace!.map((s) => s.name), ['kept']);
    const [row] = await reopened.db.query('SELECT count(*) AS n FROM trace_ranges');
    assert.equal(Number(row!.n), 11);
    await reopened.close();
  });
});

describe('retention config', () => {
  it('resolves per-signal windows; 0 and off keep data forever', () => {
    const base = { period: '7d', traces: '', logs: '3d', metrics: 'off', interval: '30s', batchRows: 10 };
    assert.deepEqual(retentionPlan(base), { windows: { traces: 7 * 86_400_000, logs: 3 * 86_400_000, metrics: null }, intervalMs: 30_000, batchRows: 10 });
    assert.deepEqual(retentionPlan({ ...base, period: '0', logs: '', traces: '1h30m' }).windows, { traces: 5_400_000, logs: null, metrics: null });
  });

  it('rejects bad values at load with the key named', () => {
    const load = (retention: Record<string, unknown>) => () => loadConfig({ env: {}, overrides: { storage: { retention } } });
    assert.throws(load({ period: 'a week' }), /storage\.retention\.period: expected a duration like "7d"/);
    assert.throws(load({ logs: '-1d' }), /storage\.retention\.logs/);
    assert.throws(load({ interval: '0' }), /storage\.retention\.interval: must be more than 0/);
    assert.throws(load({ batchRows: 0 }), /storage\.retention\.batchRows: expected an integer greater than 0/);
    assert.throws(load({ keep: '1d' }), /keep/);
    assert.equal(loadConfig({ env: { TELEQL_RETENTION: '2d', TELEQL_RETENTION_LOGS: 'off' } }).storage.retention.logs, 'off');
  });
});
