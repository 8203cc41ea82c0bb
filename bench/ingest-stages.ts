// npm run bench:ingest-stages — the ingest path without gRPC, stage by stage, in one process:
// decode → SpanRecord, row values (span-rows.ts), data chunks (the appender's JS side), and the
// whole StoreWriter into a DuckDB file. Prints CPU µs per span for each, so a change to one stage
// can be measured without the noise of the socket benchmark. Run it pinned: `taskset -c 1`.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { decodeRequest } from '../src/otlp/codec.ts';
import type { SpanRecord } from '../src/model/telemetry.ts';
import { openDuckDbStore } from '../src/stores/duckdb/index.ts';
import { spanTable, prepareSpan } from '../src/stores/duckdb/span-rows.ts';
import { stagedColumns, stagedTypes } from '../src/stores/duckdb/ddl.ts';
import { chunkFiller } from '../src/stores/duckdb/chunk.ts';
import { createEncodeCache } from '../src/stores/duckdb/resources.ts';
import { encodeTraceRequests } from './otlp-requests.ts';
import { syntheticTraces } from './synthetic.ts';
import { arg, fmt, machine } from './lib.ts';

const batches = arg('batches', 20);
// The batch processor's sendBatchSize; smaller batches go through DuckDB's WAL (see close).
const BATCH = arg('batch', 16_384);
// DuckDB's memory_limit in MB (0: DuckDB's default), to compare the store's CPU cost at two limits.
const memoryLimitMb = arg('memory-limit-mb', 0);
// --step-rows N: storage.duckdb.writeStepRows, rows per data chunk the writer appends (512).
const stepRows = arg('step-rows', 512);
// --step-ms N: storage.duckdb.writeStepMs, the longest the writer runs before yielding (10).
const stepMs = arg('step-ms', 10);
const requests = encodeTraceRequests(Array.from({ length: 50 }, (_, i) => [...syntheticTraces(10, Date.now() - 60_000 - i, Date.now())].flat()));

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function decodeBatch(k: number): SpanRecord[] {
  const out: SpanRecord[] = [];
  for (let i = 0; out.length < BATCH; i++) out.push(...(decodeRequest('traces', requests[(k * 164 + i) % requests.length]!, 'protobuf', 'default').items as SpanRecord[]));
  return out.slice(0, BATCH);
}

const columns = stagedColumns(spanTable);
const types = stagedTypes(spanTable);
// One reused chunk, as the store writer fills (a fresh chunk per call would also time its allocation).
const fillPart = chunkFiller(columns, types);
const dir = mkdtempSync(join(tmpdir(), 'teleql-stages-'));
const store = await openDuckDbStore({ path: join(dir, 'stages.duckdb'), logger: pino({ level: 'warn' }), threads: 1, memoryLimit: memoryLimitMb ? `${memoryLimitMb}MB` : undefined, writeStepRows: stepRows, writeStepMs: stepMs });
const t = { decode: 0, rows: 0, chunks: 0, write: 0 };
// How long the event loop waits behind the writer: the gaps between a 1 ms timer's runs while
// writeSpans runs (the other stages are synchronous and would count as one long turn).
const gaps: number[] = [];
function timerGaps(): () => void {
  let last = performance.now();
  let timer = setTimeout(function tick() {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    timer = setTimeout(tick, 1);
  }, 1);
  return () => clearTimeout(timer);
}
let spans = 0;
for (let k = 0; k < batches + 2; k++) {
  const warm = k < 2;
  let c = cpuUs();
  const batch = decodeBatch(k);
  const decodeUs = cpuUs() - c;
  c = cpuUs();
  const cache = createEncodeCache();
  const inputs = batch.map((s) => prepareSpan(s, cache));
  const cols: unknown[][] = [];
  for (let off = 0; off < inputs.length; off += 2048) {
    const part = inputs.slice(off, off + 2048);
    for (const col of columns) cols.push(part.map((p) => col.get!(p)));
  }
  const rowsUs = cpuUs() - c;
  c = cpuUs();
  for (let off = 0; off < inputs.length; off += 2048) {
    const part = inputs.slice(off, off + 2048);
    fillPart(part);
  }
  const chunksUs = cpuUs() - c;
  c = cpuUs();
  const stopGaps = warm ? () => {} : timerGaps();
  await store.writer.writeSpans(batch);
  const writeUs = cpuUs() - c;
  stopGaps();
  if (warm) continue;
  spans += batch.length;
  t.decode += decodeUs;
  t.rows += rowsUs;
  t.chunks += chunksUs;
  t.write += writeUs;
}
const { appendSteps, longestStepMs } = store.stats();
const c = cpuUs();
await store.close();
const closeUs = cpuUs() - c;
const fileMiB = statSync(join(dir, 'stages.duckdb')).size / 2 ** 20;
rmSync(dir, { recursive: true, force: true });
console.log(`machine: ${machine()}`);
console.log(`${spans} spans in batches of ${BATCH}${memoryLimitMb ? `, memory_limit ${memoryLimitMb}MB` : ''}; CPU µs per span (this process, all threads):`);
console.log(`  decode (protobuf → SpanRecord)         ${fmt(t.decode / spans, 2)}`);
console.log(`  row values only (get per column)       ${fmt(t.rows / spans, 2)}`);
console.log(`  data chunks (row values + chunkFiller) ${fmt(t.chunks / spans, 2)}`);
console.log(`  StoreWriter.writeSpans (all of it)     ${fmt(t.write / spans, 2)}`);
console.log(`  close (checkpoint)                     ${fmt(closeUs / spans, 2)}`);
console.log(`  peak RSS (MiB)                          ${fmt(process.resourceUsage().maxRSS / 1024, 0)}`);
console.log(`  file after close (MiB)                  ${fmt(fileMiB, 1)}`);
console.log(`  decode + write + close                 ${fmt((t.decode + t.write + closeUs) / spans, 2)}`);
// Wall clock, warm-up batches included: a step's GC or time off the core counts.
gaps.sort((a, b) => a - b);
const gap = (q: number) => fmt(gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))]!, 1);
console.log(`a 1 ms timer's gaps while writing: p50 ${gap(0.5)}, p90 ${gap(0.9)}, p99 ${gap(0.99)}, max ${gap(1)} ms (${gaps.length} runs)`);
console.log(`writer steps: ${appendSteps.spans} (${fmt(((batches + 2) * BATCH) / appendSteps.spans, 0)} rows each on average), longest ${fmt(longestStepMs.spans, 1)} ms (--step-rows ${stepRows}, --step-ms ${stepMs})`);
