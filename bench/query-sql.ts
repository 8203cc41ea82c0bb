// npm run bench:query-sql -- FILE: the trace-by-id statement alone (no GraphQL, no HTTP) on a store
// file bench:query kept (`--db FILE`), opened read-only, with the projections trace-by-id uses:
// every column (a whole-span read), the columns of a read of attributes only (what bench:query's
// trace query selects), and of no optional part; plus the trace_ranges lookup alone and a
// statement that reads nothing (the fixed cost of a prepared statement through @duckdb/node-api).
// Each is prepared once and run with random trace IDs; it prints process CPU ms per lookup (all of
// DuckDB's threads count), wall ms, and the ms spent turning the result into row objects.
// Options: --rounds N (default 3: the first warms the buffer pool), --lookups N per variant and
// round (default 300), --memory-limit SIZE (default 64MB, the gateway's default), --threads N
// (default 1, the gateway's default; 0 = DuckDB's own, one per core).
// --spikes N: instead, N lookups of the attributes variant, each with what happened around it (see
// spikes() below), and the slowest 1 % set against the median ones: where a spike's time went.
import { DuckDBInstance, INTEGER, VARCHAR } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { spanColumns } from '../src/stores/duckdb/span-rows.ts';
import { spansByTraceIdSql } from '../src/stores/duckdb/trace-store.ts';
import { traceRangeSql } from '../src/stores/duckdb/trace-ranges.ts';
import { params } from '../src/stores/duckdb/filter-sql.ts';
import { arg, fmt, percentile, threadSchedMs } from './lib.ts';

const file = process.argv.slice(2).find((a, i, all) => !a.startsWith('--') && (i === 0 || !all[i - 1]!.startsWith('--')));
if (!file) throw new Error('usage: npm run bench:query-sql -- FILE [--rounds N] [--lookups N] [--memory-limit SIZE] [--threads N]');
const rounds = arg('rounds', 3);
const lookups = arg('lookups', 300);
const threads = arg('threads', 1);
const spikeRuns = arg('spikes', 0);
const limitAt = process.argv.indexOf('--memory-limit');
const memoryLimit = limitAt === -1 ? '64MB' : process.argv[limitAt + 1]!;

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
const bindRandom = (statement: Awaited<ReturnType<typeof conn.prepare>>) => {
  const id = ids[Math.floor(Math.random() * ids.length)]!;
  statement.bind([tenant, parseInt(id.slice(0, 8), 16) | 0, id], [VARCHAR, INTEGER, VARCHAR]);
};
if (spikeRuns > 0) {
  await spikes(prepared.get('attributes')!, spikeRuns);
  process.exit(0);
}
for (let round = 0; round < rounds; round++) {
  const parts: string[] = [];
  for (const [name, statement] of prepared) {
    let convertMs = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < lookups; i++) {
      bindRandom(statement);
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

/**
 * What each lookup overlapped, from /proc and the process: wall and CPU ms; ms the process's threads
 * were runnable but waiting for a core (schedstat, summed over threads: other processes' load); the
 * machine's steal ticks (10 ms each: the hypervisor); page faults; KiB read (blocks the buffer pool
 * had evicted, read back from the file in 256 KiB blocks; ~2 KiB are this probe's own /proc reads);
 * DuckDB's pool MiB after it; GC ms in it.
 */
async function spikes(statement: Awaited<ReturnType<typeof conn.prepare>>, runs: number): Promise<void> {
  type Sample = Record<'wall' | 'cpu' | 'runqWait' | 'steal' | 'minflt' | 'majflt' | 'readKiB' | 'poolMiB' | 'gc', number>;
  const gcs: { start: number; end: number }[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
  }).observe({ entryTypes: ['gc'] });
  const proc = () => {
    const f = readFileSync('/proc/self/stat', 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const io = Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((l) => l.split(': ') as [string, string]));
    const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/);
    let wait = 0;
    for (const t of threadSchedMs(process.pid).values()) wait += t.waitMs;
    return { minflt: Number(fields[7]), majflt: Number(fields[9]), rchar: Number(io.rchar), steal: Number(cpuLine[8]), wait };
  };
  const pool = async () => {
    const r = await rows(`SELECT sum(memory_usage_bytes)::DOUBLE AS b FROM duckdb_memory()`);
    return (r[0]!.b as number) / 2 ** 20;
  };
  const samples: Sample[] = [];
  for (let i = 0; i < runs + 200; i++) {
    bindRandom(statement);
    const p0 = proc();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    (await statement.runAndReadAll()).getRowObjectsJS();
    const t1 = performance.now();
    const cpu = process.cpuUsage(c0);
    const p1 = proc();
    const gc = gcs.filter((g) => g.end > t0 && g.start < t1).reduce((a, g) => a + Math.min(g.end, t1) - Math.max(g.start, t0), 0);
    if (i < 200) continue; // warm-up: the pool fills
    samples.push({
      wall: t1 - t0,
      cpu: (cpu.user + cpu.system) / 1000,
      runqWait: p1.wait - p0.wait,
      steal: p1.steal - p0.steal,
      minflt: p1.minflt - p0.minflt,
      majflt: p1.majflt - p0.majflt,
      readKiB: (p1.rchar - p0.rchar) / 1024,
      poolMiB: await pool(),
      gc,
    });
  }
  const sorted = [...samples].sort((a, b) => a.wall - b.wall);
  const walls = sorted.map((s) => s.wall);
  const mean = (set: Sample[], k: keyof Sample) => set.reduce((a, s) => a + s[k], 0) / set.length;
  const slow = sorted.slice(Math.floor(sorted.length * 0.99));
  const mid = sorted.slice(Math.floor(sorted.length * 0.4), Math.floor(sorted.length * 0.6));
  console.log(`${runs} lookups (attributes): wall p50 ${fmt(percentile(walls, 50), 2)} / p99 ${fmt(percentile(walls, 99), 2)} / max ${fmt(walls.at(-1)!, 2)} ms`);
  const keys = Object.keys(samples[0]!) as (keyof Sample)[];
  console.log(`means, slowest 1 % (${slow.length}) vs p40–p60 (${mid.length}): ${keys.map((k) => `${k} ${fmt(mean(slow, k), 2)} / ${fmt(mean(mid, k), 2)}`).join(', ')}`);
  console.log('slowest lookups:');
  for (const s of slow.reverse()) console.log(`  ${keys.map((k) => `${k} ${fmt(s[k], 2)}`).join(', ')}`);
  console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}
