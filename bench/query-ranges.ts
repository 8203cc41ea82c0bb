// npm run bench:query-ranges — the trace_ranges lookup alone at a given size, sorted runs against the
// whole-table scan they replace. Loads --ranges N one-span traces (default 1,400,000: what a 300 s
// bench:ingest leaves, ~14M spans' worth of ranges) through the store writer with range compaction
// on, as ingest does (range-compaction.ts), and prints the compaction's steps and time. Then, in one
// process on that file: the lookup as the store runs it (tail + sorted runs), and the single-table
// lookup of the old layout on a copy of the same rows in arrival order (`trace_ranges_unsorted`,
// what trace_ranges held before compaction). Rounds alternate the two; each prints process CPU ms and
// wall ms per lookup (random IDs), and DuckDB's rows scanned for one lookup.
// Options: --ranges N, --rounds N (default 4: the first warms the buffer pool), --lookups N (default
// 400), --db FILE (keep the loaded file; when it exists it is reused), --threads N.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, INTEGER, VARCHAR } from '@duckdb/node-api';
import { silentLogger } from '../src/logger.ts';
import type { SpanRecord } from '../src/model/telemetry.ts';
import { params } from '../src/stores/duckdb/filter-sql.ts';
import { openDuckDbStore } from '../src/stores/duckdb/index.ts';
import { traceRangeSql } from '../src/stores/duckdb/trace-ranges.ts';
import { traceIdsSql } from '../src/stores/duckdb/trace-key.ts';
import { span } from '../test/helpers/telemetry-builders.ts';
import { arg, fmt, machine } from './lib.ts';

const total = arg('ranges', 1_400_000);
const rounds = arg('rounds', 4);
const lookups = arg('lookups', 400);
const threads = arg('threads', 0);
const dbAt = process.argv.indexOf('--db');
const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-ranges-'));
const file = dbAt === -1 ? join(dir, 'ranges.duckdb') : process.argv[dbAt + 1]!;
const BATCH = 16_384;
const TENANT = 'bench';

console.log(machine());
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

if (!existsSync(file)) {
  const store = await openDuckDbStore({ path: file, logger: silentLogger(), ...(threads ? { threads } : {}) });
  const t0 = performance.now();
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  for (let off = 0; off < total; off += BATCH) {
    const spans: SpanRecord[] = [];
    for (let i = off; i < Math.min(total, off + BATCH); i++) {
      // A random-looking trace ID per span, as real ones are; starts 1 ms apart in arrival order.
      const traceId = `${hex(Math.imul(i + 1, 2654435761) >>> 0)}${hex(i)}${'0'.repeat(16)}`;
      spans.push(span({ tenant: TENANT, traceId, startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n }));
    }
    await store.writer.writeSpans(spans);
  }
  await store.rangeCompaction.idle();
  const loadS = (performance.now() - t0) / 1000;
  const m = (name: string) => store.rangeCompaction.metrics().find((s) => s.name === name && s.labels?.table === 'trace_ranges')!.value;
  const { trace_ranges: layout } = await store.rangeCompaction.layout();
  console.log(
    `loaded ${fmt(total, 0)} one-span traces in ${fmt(loadS, 1)} s; compaction: ${m('teleql_range_compaction_moves_total')} moves, ` +
      `${m('teleql_range_compaction_merges_total')} merges, ${fmt(m('teleql_range_compaction_rows_total'), 0)} rows written ` +
      `(${fmt(m('teleql_range_compaction_rows_total') / total, 1)} per range), ${fmt(m('teleql_range_compaction_seconds_total'), 2)} s holding the lanes (longest step ${fmt(m('teleql_range_compaction_longest_step_seconds') * 1000, 0)} ms)`,
  );
  console.log(`layout: tail ${fmt(layout!.tailRows, 0)} rows, runs ${layout!.runs.map((r) => fmt(r.rows, 0)).join(' + ')}`);
  await store.db.writeLane('spans').use(async (conn) => {
    await conn.run(
      'CREATE TABLE trace_ranges_unsorted AS SELECT * FROM (SELECT * FROM trace_ranges UNION ALL SELECT tenant, trace_key, trace_id, min_start_ns, max_start_ns FROM trace_ranges_sorted) ORDER BY min_start_ns',
    );
  });
  await store.close();
}

const instance = await DuckDBInstance.create(file, { memory_limit: '64MB', access_mode: 'READ_ONLY', ...(threads ? { threads: String(threads) } : {}) });
const conn = await instance.connect();
const ids = (await conn.runAndReadAll('SELECT trace_id FROM trace_ranges_unsorted USING SAMPLE 5000 ROWS')).getRowObjectsJS().map((r) => r.trace_id as string);
const oneId = (build: (ids: string[], p: ReturnType<typeof params>) => string) => build(['0'.repeat(32)], params([TENANT]));
const variants: Record<string, string> = {
  'sorted runs + tail': `SELECT * FROM ${oneId((i, p) => traceRangeSql(i, p))}`,
  'one unsorted table (before)': oneId(
    (i, p) => `SELECT min(min_start_ns) AS lo, max(max_start_ns) AS hi FROM trace_ranges_unsorted WHERE ${traceIdsSql(i, p.add)} AND tenant = $1`,
  ),
};
const bindOne = (id: string) => [[TENANT, parseInt(id.slice(0, 8), 16) | 0, id], [VARCHAR, INTEGER, VARCHAR]] as const;

await conn.run(`PRAGMA enable_profiling = 'json'`);
await conn.run(`PRAGMA custom_profiling_settings = '{"CUMULATIVE_ROWS_SCANNED": "true"}'`);
for (const [name, sql] of Object.entries(variants)) {
  const [values, types] = bindOne(ids[0]!);
  const [[, profile]] = (await conn.runAndReadAll(`EXPLAIN ANALYZE ${sql}`, [...values], [...types])).getRows() as [[unknown, string]];
  console.log(`${name}: ${fmt((JSON.parse(profile) as { cumulative_rows_scanned: number }).cumulative_rows_scanned, 0)} rows scanned for one lookup`);
}
await conn.run(`PRAGMA disable_profiling`);

const prepared = new Map<string, Awaited<ReturnType<typeof conn.prepare>>>();
for (const [name, sql] of Object.entries(variants)) prepared.set(name, await conn.prepare(sql));
for (let round = 0; round < rounds; round++) {
  const parts: string[] = [];
  // Alternate which variant goes first, so neither always runs on the other's warmed blocks.
  const order = round % 2 === 0 ? [...prepared] : [...prepared].reverse();
  for (const [name, statement] of order) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < lookups; i++) {
      const [values, types] = bindOne(ids[Math.floor(Math.random() * ids.length)]!);
      statement.bind([...values], [...types]);
      const [row] = (await statement.runAndReadAll()).getRowObjectsJS();
      if (row?.lo === null || row?.lo === undefined) throw new Error(`${name}: a sampled trace ID was not found`);
    }
    const cpu = process.cpuUsage(cpu0);
    parts.push(`${name}: CPU ${fmt((cpu.user + cpu.system) / 1000 / lookups, 2)} / wall ${fmt((performance.now() - t0) / lookups, 2)} ms`);
  }
  console.log(`round ${round + 1}${round === 0 ? ' (warm-up)' : ''}: ${parts.join(' | ')}`);
}
conn.closeSync();
instance.closeSync();
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
if (dbAt === -1) rmSync(dir, { recursive: true, force: true });
