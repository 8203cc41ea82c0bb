// npm run bench:query-sql -- FILE: the trace-by-id statement alone (no GraphQL, no HTTP) on a store
// file bench:query kept (`--db FILE`), opened read-only, with the projections trace-by-id uses:
// every column (a whole-span read), the columns of a read of attributes only (what bench:query's
// trace query selects), and of no optional part; plus the trace_ranges lookup alone and a
// statement that reads nothing (the fixed cost of a prepared statement through @duckdb/node-api).
// Each is prepared once and run with random trace IDs; it prints process CPU ms per lookup (all of
// DuckDB's threads count), wall ms, and the ms spent turning the result into row objects.
// Options: --rounds N (default 3: the first warms the buffer pool), --lookups N per variant and
// round (default 300), --memory-limit SIZE (default 96MB, the gateway's default), --threads N.
import { DuckDBInstance, INTEGER, VARCHAR } from '@duckdb/node-api';
import { loadavg } from 'node:os';
import { spanColumns } from '../src/stores/duckdb/span-rows.ts';
import { spansByTraceIdSql } from '../src/stores/duckdb/trace-store.ts';
import { traceRangeSql } from '../src/stores/duckdb/trace-ranges.ts';
import { params } from '../src/stores/duckdb/filter-sql.ts';
import { arg, fmt } from './lib.ts';

const file = process.argv.slice(2).find((a, i, all) => !a.startsWith('--') && (i === 0 || !all[i - 1]!.startsWith('--')));
if (!file) throw new Error('usage: npm run bench:query-sql -- FILE [--rounds N] [--lookups N] [--memory-limit SIZE] [--threads N]');
const rounds = arg('rounds', 3);
const lookups = arg('lookups', 300);
const threads = arg('threads', 0);
const limitAt = process.argv.indexOf('--memory-limit');
const memoryLimit = limitAt === -1 ? '96MB' : process.argv[limitAt + 1]!;

const instance = await DuckDBInstance.create(file, { memory_limit: memoryLimit, access_mode: 'READ_ONLY', ...(threads ? { threads: String(threads) } : {}) });
const conn = await instance.connect();
const rows = async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjectsJS();
const ids = (await rows('SELECT trace_id FROM trace_ranges USING SAMPLE 5000 ROWS')).map((r) => r.trace_id as string);
const tenant = (await rows('SELECT tenant FROM spans LIMIT 1'))[0]!.tenant as string;

// The statements as the store builds them for one ID: $1 tenant, $2 trace key, $3 trace ID.
const oneId = (build: (ids: string[], p: ReturnType<typeof params>) => string) => build(['0'.repeat(32)], params([tenant]));
const variants: Record<string, string> = {
  'all columns': oneId((i, p) => spansByTraceIdSql(spanColumns(), i, p)),
  attributes: oneId((i, p) => spansByTraceIdSql(spanColumns(new Set(['attributes'])), i, p)),
  'no optional part': oneId((i, p) => spansByTraceIdSql(spanColumns(new Set()), i, p)),
  'trace_ranges only': oneId((i, p) => traceRangeSql(i, p)),
  'nothing (fixed cost)': 'SELECT 1 WHERE $1 IS NOT NULL AND $2 IS NOT NULL AND $3 IS NOT NULL',
};
const prepared = new Map<string, Awaited<ReturnType<typeof conn.prepare>>>();
for (const [name, sql] of Object.entries(variants)) prepared.set(name, await conn.prepare(sql));

console.log(`${file}: ${fmt(ids.length, 0)} sampled trace IDs, memory_limit ${memoryLimit}${threads ? `, threads ${threads}` : ''}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (let round = 0; round < rounds; round++) {
  const parts: string[] = [];
  for (const [name, statement] of prepared) {
    let convertMs = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < lookups; i++) {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      statement.bind([tenant, parseInt(id.slice(0, 8), 16) | 0, id], [VARCHAR, INTEGER, VARCHAR]);
      const reader = await statement.runAndReadAll();
      const c0 = performance.now();
      reader.getRowObjectsJS();
      convertMs += performance.now() - c0;
    }
    const cpu = process.cpuUsage(cpu0);
    parts.push(`${name}: CPU ${fmt((cpu.user + cpu.system) / 1000 / lookups, 2)} / wall ${fmt((performance.now() - t0) / lookups, 2)} / rows ${fmt(convertMs / lookups, 2)}`);
  }
  console.log(`round ${round + 1}${round === 0 ? ' (warm-up)' : ''}: ${parts.join(' | ')}`);
}
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
