// npm run bench:ingest — OTLP/gRPC ingest throughput into DuckDB, against a bare receiver.
//
// Both servers run as child processes pinned to CPU 0 (`taskset -c 0`, "one core"); this process
// is the client, pinned to CPU 1. It sends pre-encoded ExportTraceServiceRequests (100 spans × 10
// attributes) with a fixed number of requests in flight for --seconds (default 60; use 300 for the
// memory-flatness run). For the gateway, the clock stops when every acknowledged span is in DuckDB
// (teleql_batch_sent_items_total on /metrics). Prints spans/s, CPU-seconds per million spans, peak
// RSS and RSS over time, and the gateway's CPU cost as a ratio to the bare receiver's.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportServiceDefinition } from '../ingest/receivers/otlp/grpc.ts';
import { encodeTraceRequests } from './otlp-requests.ts';
import { syntheticTraces } from './synthetic.ts';
import { arg, cpuSeconds, fmt, machine, rssMiB, waitForReady } from './lib.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { distIsFresh } from '../bin/dist-fresh.js';

const seconds = arg('seconds', 60);
const inFlight = arg('concurrency', 8);
// --profile DIR: write a V8 CPU profile of the gateway (not the bare receiver) into DIR.
const profileDir = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : undefined;
// --memory-limit SIZE: the gateway's storage.duckdb.memoryLimit (default: the config's), e.g. 96MB.
// --skip-bare: no bare-receiver run (and no ratio), for long memory runs of the gateway alone.
const memoryLimit = process.argv.includes('--memory-limit') ? process.argv[process.argv.indexOf('--memory-limit') + 1] : undefined;
const SPANS_PER_REQUEST = 100;
// What `npm start` runs: dist/ when it is fresh (the bare receiver's codec too, so the ratio compares like with like).
const fromDist = distIsFresh();

function pinned(args: string[], env: NodeJS.ProcessEnv, nodeFlags: string[] = []): ChildProcess {
  return spawn('taskset', ['-c', '0', process.execPath, ...nodeFlags, '--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

async function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = pattern.exec(buf);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before printing ${pattern}`)));
  });
}

interface RunResult {
  spans: number;
  wallS: number;
  cpuS: number;
  peakMiB: number;
  rssSamples: number[];
  /** The gateway's rss split every 5 s (empty for the bare receiver). */
  splits: MemorySplit[];
}

/** V8 heap, external and the native rest of rss (MiB), from the text of the gateway's /metrics. */
type MemorySplit = { heap: number; external: number; native: number };
function memorySplit(metricsText: string): MemorySplit & { rss: number; heapUsed: number; arrayBuffers: number } {
  const mem = Object.fromEntries([...metricsText.matchAll(/teleql_process_memory_bytes\{kind="(\w+)"\} (\d+)/g)].map((m) => [m[1]!, Number(m[2]) / 2 ** 20]));
  const [rss, heap, external] = [mem.rss ?? 0, mem.heap_total ?? 0, mem.external ?? 0];
  return { rss, heap, external, native: rss - heap - external, heapUsed: mem.heap_used ?? 0, arrayBuffers: mem.array_buffers ?? 0 };
}

async function drive(target: string, pid: number, waitWritten?: (acked: number) => Promise<void>, metricsUrl?: string): Promise<RunResult> {
  const requests = encodeTraceRequests(
    Array.from({ length: 50 }, (_, i) => [...syntheticTraces(SPANS_PER_REQUEST / 10, Date.now() - 60_000 - i, Date.now())].flat()),
  );
  const Client = grpc.makeGenericClientConstructor(exportServiceDefinition('traces'), 'TraceService');
  const client = new Client(target, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 }) as unknown as grpc.Client & {
    Export(req: Buffer, cb: (err: grpc.ServiceError | null) => void): void;
  };
  const send = (req: Buffer) => new Promise<void>((resolve, reject) => client.Export(req, (err) => (err ? reject(err) : resolve())));
  await send(requests[0]!); // connect and warm up
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let acked = SPANS_PER_REQUEST;
  let retried = 0;
  const rssSamples: number[] = [];
  const splits: MemorySplit[] = [];
  const sampler = setInterval(() => {
    rssSamples.push(rssMiB(pid).rss);
    // Which part grows, when rss does: sampled from the gateway itself every 5 s.
    if (metricsUrl) fetch(metricsUrl).then((res) => res.text()).then((text) => splits.push(memorySplit(text)), () => undefined);
  }, 5000);
  let n = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        try {
          await send(requests[n++ % requests.length]!);
          acked += SPANS_PER_REQUEST;
        } catch (err) {
          if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE) throw err;
          retried++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }),
  );
  if (waitWritten) await waitWritten(acked);
  const wallS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const cpuS = cpuSeconds(pid) - cpu0;
  client.close();
  if (retried) console.log(`  (${retried} requests were told to retry: queue full)`);
  return { spans: acked - SPANS_PER_REQUEST, wallS, cpuS, peakMiB: rssMiB(pid).peak, rssSamples, splits };
}

function report(name: string, r: RunResult): void {
  const perM = (r.cpuS / r.spans) * 1e6;
  console.log(
    `${name.padEnd(28)} ${fmt(r.spans / r.wallS, 0).padStart(10)} spans/s  ${fmt(perM, 2).padStart(7)} CPU-s/M spans  peak RSS ${fmt(r.peakMiB, 0)} MiB`,
  );
  if (r.rssSamples.length >= 4) {
    const half = Math.floor(r.rssSamples.length / 2);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`${''.padEnd(28)} RSS first half avg ${fmt(avg(r.rssSamples.slice(0, half)), 0)} MiB, second half avg ${fmt(avg(r.rssSamples.slice(half)), 0)} MiB (samples every 5 s: ${r.rssSamples.map((x) => x.toFixed(0)).join(' ')})`);
  }
  if (r.splits.length >= 4) {
    // Per quarter of the run: which of the three parts the rss change is in.
    const quarter = Math.ceil(r.splits.length / 4);
    const parts = [0, 1, 2, 3].map((q) => r.splits.slice(q * quarter, (q + 1) * quarter)).filter((xs) => xs.length);
    const mean = (xs: MemorySplit[], k: keyof MemorySplit) => xs.reduce((a, x) => a + x[k], 0) / xs.length;
    console.log(`${''.padEnd(28)} by quarter of the run, MiB: V8 heap ${parts.map((xs) => fmt(mean(xs, 'heap'), 0)).join(' / ')}; external ${parts.map((xs) => fmt(mean(xs, 'external'), 0)).join(' / ')}; native ${parts.map((xs) => fmt(mean(xs, 'native'), 0)).join(' / ')}`);
  }
}

console.log(`machine: ${machine()}`);
console.log(fromDist ? 'gateway and bare receiver: dist/ (what npm start runs)' : 'gateway and bare receiver: the TypeScript sources through tsx (dist/ is missing or older than a source: `npm run build` to measure what npm start runs)');
console.log(`${seconds} s per run, ${inFlight} requests in flight, ${SPANS_PER_REQUEST} spans × 10 attributes per request; servers pinned to one core${memoryLimit ? `; memoryLimit ${memoryLimit}` : ''}\n`);

// Baseline: decode and discard (--skip-bare: the gateway alone, for memory runs; no ratio then).
let bareResult: RunResult | null = null;
if (!process.argv.includes('--skip-bare')) {
  const bare = pinned(['bench/bare-receiver.ts'], fromDist ? { TELEQL_BENCH_DIST: '1' } : {});
  const [, barePort] = await waitForLine(bare, /listening (\d+)/);
  bareResult = await drive(`127.0.0.1:${barePort}`, bare.pid!);
  bare.kill('SIGTERM');
  report('bare receiver (decode only)', bareResult);
}

// teleql: OTLP/gRPC → batch → DuckDB file.
const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-ingest-'));
const [grpcPort, httpPort, gqlPort] = [await freePort(), await freePort(), await freePort()];
const configFile = join(dir, 'teleql.yaml');
writeFileSync(configFile, `storage:\n  duckdb:\n    path: ${join(dir, 'bench.duckdb')}\n    threads: 1\n${memoryLimit ? `    memoryLimit: ${memoryLimit}\n` : ''}`);
const gateway = pinned([fromDist ? 'dist/src/main.js' : 'src/main.ts', 'serve', '--config', configFile], {
  TELEQL_OTLP_GRPC_PORT: String(grpcPort),
  TELEQL_OTLP_HTTP_PORT: String(httpPort),
  TELEQL_GRAPHQL_PORT: String(gqlPort),
  TELEQL_LOG_LEVEL: 'warn',
}, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
gateway.stdout!.on('data', (d: Buffer) => process.stderr.write(d));
await waitForReady(gqlPort, 30_000);
const written = async (acked: number) => {
  for (;;) {
    const text = await (await fetch(`http://127.0.0.1:${gqlPort}/metrics`)).text();
    const sent = Number(/teleql_batch_sent_items_total\{component="batch\/traces"\} (\d+)/.exec(text)?.[1] ?? 0);
    // A batch the store never took is counted as failed, not sent: say so instead of waiting for ever.
    const failed = Number(/teleql_batch_failed_items_total\{component="batch\/traces"\} (\d+)/.exec(text)?.[1] ?? 0);
    if (sent + failed >= acked) {
      if (failed > 0) console.log(`WARNING: ${failed} acknowledged spans were never written (teleql_batch_failed_items_total); the figures below are not valid`);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
};
const metricsUrl = `http://127.0.0.1:${gqlPort}/metrics`;
const gwResult = await drive(`127.0.0.1:${grpcPort}`, gateway.pid!, written, metricsUrl);
// Where the gateway's memory is at the end of the run (teleql_process_memory_bytes on /metrics).
const memText = await (await fetch(metricsUrl)).text();
const retries = [...memText.matchAll(/teleql_duckdb_write_retries_total\{component="duckdb\/traces"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
if (retries > 0) console.log(`note: DuckDB refused ${retries} write attempts that were then retried (teleql_duckdb_write_retries_total)`);
const mem = memorySplit(memText);
const reopens = Number(/teleql_duckdb_reopens_total (\d+)/.exec(memText)?.[1] ?? 0);
gateway.kill('SIGTERM');
await new Promise((r) => gateway.once('exit', r));
rmSync(dir, { recursive: true, force: true });
report('teleql → DuckDB', gwResult);
console.log(
  `${''.padEnd(28)} at the end: rss ${fmt(mem.rss, 0)} MiB = V8 heap ${fmt(mem.heap, 0)} (used ${fmt(mem.heapUsed, 0)}) + external ${fmt(mem.external, 0)} (array buffers ${fmt(mem.arrayBuffers, 0)}) + native/code ${fmt(mem.native, 0)} MiB (DuckDB, onnxruntime, …); ${reopens} DuckDB reopens (storage.duckdb.reopenEveryRows)`,
);

if (bareResult) {
  const ratio = gwResult.cpuS / gwResult.spans / (bareResult.cpuS / bareResult.spans);
  console.log(`\nCPU cost ratio teleql / bare receiver: ${fmt(ratio, 2)}  (target ≤ 2.5)`);
}
console.log(`throughput: ${fmt(gwResult.spans / gwResult.wallS, 0)} spans/s into DuckDB (target ≥ 40,000 on one core)`);
