// npm run bench:ingest-memory — where the store writer's memory goes, in one process: writes batches of
// decoded spans like bench:ingest-stages and every 10 batches prints RSS, the V8 heap, external
// memory, the rest ("native": DuckDB, node's and libduckdb's code, malloc) and DuckDB's own account
// of its buffer pool (duckdb_memory(), by tag). `--memory-limit-mb N` (default 128), `--batches N`;
// `--reopen`: after the run, close the store and open it again, printing the native part each time.
// `--reopen-every-rows N`: the store's own reopen policy (storage.duckdb.reopenEveryRows), logged as it runs.
// env PROBE_SQL runs `;`-separated statements first (e.g. SET allocator_flush_threshold = '16MB').
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { decodeRequest } from '../src/otlp/codec.ts';
import type { SpanRecord } from '../src/model/telemetry.ts';
import { openDuckDbStore } from '../src/stores/duckdb/index.ts';
import { encodeTraceRequests } from './otlp-requests.ts';
import { syntheticTraces } from './synthetic.ts';
import { arg } from './lib.ts';

const batches = arg('batches', 60);
const BATCH = arg('batch', 16_384);
const memoryLimitMb = arg('memory-limit-mb', 128);
const reopenEveryRows = arg('reopen-every-rows', 0);
const requests = encodeTraceRequests(Array.from({ length: 50 }, (_, i) => [...syntheticTraces(10, Date.now() - 60_000 - i, Date.now())].flat()));
function decodeBatch(k: number): SpanRecord[] {
  const out: SpanRecord[] = [];
  for (let i = 0; out.length < BATCH; i++) out.push(...(decodeRequest('traces', requests[(k * 164 + i) % requests.length]!, 'protobuf', 'default').items as SpanRecord[]));
  return out.slice(0, BATCH);
}
const dir = mkdtempSync(join(tmpdir(), 'teleql-memprobe-'));
const openStore = () =>
  openDuckDbStore({ path: join(dir, 'p.duckdb'), logger: pino({ level: reopenEveryRows ? 'info' : 'warn' }), threads: 1, memoryLimit: `${memoryLimitMb}MB`, reopenEveryRows });
const store = await openStore();
for (const stmt of (process.env.PROBE_SQL ?? '').split(';').filter((s) => s.trim())) await store.db.query(stmt);
const settings = await store.db.query(
  `SELECT name, value FROM duckdb_settings() WHERE name LIKE 'allocator%' OR name IN ('memory_limit','threads','preserve_insertion_order','checkpoint_threshold','wal_autocheckpoint')`,
);
console.log(settings.map((r) => `${r.name}=${r.value}`).join('  '));
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
/** rss minus the V8 heap and external memory: DuckDB, code, malloc. */
const nativeBytes = (m = process.memoryUsage()) => m.rss - m.heapTotal - m.external;
async function sample(k: number) {
  const m = process.memoryUsage();
  const dm = await store.db.query(`SELECT tag, memory_usage_bytes AS b, temporary_storage_bytes AS t FROM duckdb_memory() WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0`);
  const dsum = dm.reduce((a, r) => a + Number(r.b), 0);
  const native = nativeBytes(m);
  console.log(
    `batch ${k}: rss ${mib(m.rss)} heap ${mib(m.heapTotal)} ext ${mib(m.external)} native ${mib(native)} | duckdb_memory ${mib(dsum)}: ${dm.map((r) => `${r.tag} ${mib(Number(r.b))}`).join(', ')} | maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)}`,
  );
}
const t0 = process.cpuUsage();
for (let k = 0; k < batches; k++) {
  await store.writer.writeSpans(decodeBatch(k));
  if (k % 10 === 9) await sample(k + 1);
}
const u = process.cpuUsage(t0);
console.log(`cpu µs/span ${((u.user + u.system) / (batches * BATCH)).toFixed(2)}`);
await store.close();
if (process.argv.includes('--reopen')) {
  // Whether the native rise belongs to the open database (given back at close) or to the process.
  console.log(`closed: native ${mib(nativeBytes())} MiB`);
  const again = await openStore();
  console.log(`reopened: native ${mib(nativeBytes())} MiB`);
  await again.close();
}
rmSync(dir, { recursive: true, force: true });
