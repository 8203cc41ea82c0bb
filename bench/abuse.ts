// One tenant floods ingest and queries while a second tenant's ingest and queries are measured,
// side by side: B alone (baseline), B while A uses its allowance under the limits (what the limits
// let A cost B), B while A floods with no limits, B while A floods with per-tenant limits on. Same run, so machine load affects every column alike. Each tenant's
// clients run in their own worker thread (bench/abuse-clients.ts). By default the gateway runs in a
// child process (bench/abuse-gateway.ts) pinned with `taskset` to its own core(s) and the clients
// to the others, as with an attacker on another machine; per phase the gateway's CPU (from /proc,
// main thread and the rest: DuckDB, libuv, GC helpers), its event-loop busy share and DuckDB time
// per statement are printed. `--shape inprocess` runs the gateway on this process's main thread,
// unpinned, as before (session 5's figures).
//   npm run bench:abuse -- --seconds 8 --flooders 8 [--gateway-cpus 0] [--shape inprocess]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { startGateway } from '../test/helpers/gateway.ts';
import { arg, cpuSeconds, fmt, machine, summarize, threadSchedMs } from './lib.ts';
import type { ClientPlan, Side } from './abuse-clients.ts';
import type { GatewayAddresses, GatewayReading } from './abuse-gateway.ts';

const SECONDS = arg('seconds', 8);
// --warmup S: seconds each phase's clients run before the measured SECONDS (not counted; the gateway's
// figures start after it too): every phase starts a fresh gateway, whose first requests pay for JIT
// compilation, the first writes and the embedder's load.
const WARMUP = arg('warmup', 2);
const FLOODERS = arg('flooders', 8);
const argText = (name: string, fallback: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1]! : fallback);
// --protocol grpc: tenant A floods ingest over OTLP/gRPC (protobuf) instead of OTLP/HTTP JSON.
const PROTOCOL = argText('protocol', 'http') === 'grpc' ? 'grpc' : 'http';
// --duckdb-threads N: storage.duckdb.threads for every phase (0 = DuckDB's default, one per core).
const DUCKDB_THREADS = arg('duckdb-threads', 0);
// --a-work ingest|queries|both: which of tenant A's floods run (both by default).
const A_WORK = ((w) => (w === 'ingest' || w === 'queries' ? w : 'both'))(argText('a-work', 'both'));
// --a-spans N: spans in each of tenant A's ingest requests (2,000: a 768 KB OTLP/JSON body).
const A_SPANS = arg('a-spans', 2_000);
const SHAPE = argText('shape', 'child') === 'inprocess' ? 'inprocess' : 'child';
// --gateway-cpus LIST: the gateway's cores (taskset -c); the clients get the others.
const ALL_CPUS = cpus().map((_, i) => i);
const GATEWAY_CPUS = argText('gateway-cpus', '0');
const CLIENT_CPUS = ALL_CPUS.filter((c) => !GATEWAY_CPUS.split(',').map(Number).includes(c)).join(',') || GATEWAY_CPUS;
// --profile DIR (child shape): the gateway writes a V8 CPU profile of its main thread there when it stops.
const PROFILE = process.argv.includes('--profile') ? ['--cpu-prof', '--cpu-prof-dir', argText('profile', '.')] : [];
// --gateway-node-flags "FLAGS" (child shape): node / V8 flags for the gateway, e.g. "--trace-gc".
const GATEWAY_NODE_FLAGS = argText('gateway-node-flags', '').split(' ').filter(Boolean);
// --batch-ms N: processors.batch.timeoutMs of every phase. The test helper's 20 ms (session 5's
// figures) writes each request in its own transaction; 1,000 is the gateway's default.
const BATCH_MS = arg('batch-ms', 1_000);
const LIMITS = { ingest: { itemsPerSecond: 1_000, bytesPerSecond: 0 }, graphql: { requestsPerSecond: 50, costPerSecond: 2_000, concurrentPerTenant: 1, timeoutMs: 2_000, duckdbMsPerSecond: arg('duckdb-ms', 0) } };
// Extra config for the limited phase, as JSON (e.g. '{"receivers":{"otlp":{...}}}'), to compare a choice.
const LIMITED_EXTRA = JSON.parse(argText('limited-config', '{}')) as Record<string, unknown>;

function runClients(plan: ClientPlan): Promise<Side> {
  return new Promise((resolve, reject) => {
    // tsx's loader does not reach a worker's entry file on Node 20: register it, then import.
    const entry = JSON.stringify(new URL('./abuse-clients.ts', import.meta.url).href);
    const w = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true, workerData: plan });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/** Config objects merged key by key (arrays and values replaced). */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
    out[k] = isObject(prev) && isObject(v) ? merge(prev, v) : v;
  }
  return out;
}

/** A gateway for one phase, however it runs: its addresses, a reading of what it did, stop. */
interface PhaseGateway extends GatewayAddresses {
  /** Starts the phase's measurement. */
  begin(): void;
  read(): Promise<GatewayReading & { cpuMs?: { main: number; other: number; waitingForCpu: number } }>;
  stop(): Promise<void>;
}

async function inProcessGateway(overrides: Record<string, unknown>): Promise<PhaseGateway> {
  const gw = await startGateway(overrides);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let elu = performance.eventLoopUtilization();
  return {
    otlpHttp: gw.otlpHttp,
    otlpGrpc: gw.otlpGrpc,
    graphqlUrl: gw.graphqlUrl,
    begin() {
      delay.enable();
      elu = performance.eventLoopUtilization();
    },
    read() {
      delay.disable();
      return Promise.resolve({
        busy: performance.eventLoopUtilization(elu).utilization,
        delayP99Ms: delay.percentile(99) / 1e6,
        delayMaxMs: delay.max / 1e6,
        reads: [...(gw.app.internals.store()?.db.readStats() ?? [])],
      });
    },
    stop: () => gw.stop(),
  };
}

/** CPU ms (user + system) from a /proc stat line: of the process, or of one of its threads. */
async function childGateway(overrides: Record<string, unknown>): Promise<PhaseGateway> {
  const entry = new URL('./abuse-gateway.ts', import.meta.url).pathname;
  const child: ChildProcess = spawn('taskset', ['-c', GATEWAY_CPUS, process.execPath, ...PROFILE, ...GATEWAY_NODE_FLAGS, '--import', 'tsx', entry, JSON.stringify(overrides)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kill = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  const next = <T>(): Promise<T> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`bench gateway exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as T);
      });
    });
  const addresses = await next<GatewayAddresses>();
  // Main thread (tid = pid) and the whole process: the difference is DuckDB's, libuv's and V8's threads.
  // Time its threads spent runnable but waiting for a CPU (schedstat's second field, ns): what other
  // processes on its cores took from it. Threads that ended during the phase are not counted.
  const runQueueMs = () => [...threadSchedMs(child.pid!).values()].reduce((sum, t) => sum + t.waitMs, 0);
  const cpu = () => {
    const main = cpuSeconds(child.pid!, child.pid!) * 1000;
    return { main, other: cpuSeconds(child.pid!) * 1000 - main, waitingForCpu: runQueueMs() };
  };
  let cpuAtBegin = { main: 0, other: 0, waitingForCpu: 0 };
  return {
    ...addresses,
    begin() {
      cpuAtBegin = cpu();
      child.send('reset');
    },
    async read() {
      const now = cpu();
      const reading = next<GatewayReading>();
      child.send('read');
      return { ...(await reading), cpuMs: { main: now.main - cpuAtBegin.main, other: now.other - cpuAtBegin.other, waitingForCpu: now.waitingForCpu - cpuAtBegin.waitingForCpu } };
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await exited;
      process.off('exit', kill);
    },
  };
}

/** Gateway figures of a phase, added up over rounds: CPU and run-queue ms, B's DuckDB statements and their running ms. */
interface GatewaySums {
  busyMs: number;
  mainMs: number;
  otherMs: number;
  waitingForCpuMs: number;
  bStatements: number;
  bRunMs: number;
}
const gatewaySums: GatewaySums[] = [];

/** What tenant A does in a phase: nothing, use its allowance under the limits, or flood. */
type AWork = 'none' | 'within limits' | 'flood';

// A within its limits: a request every (its cost / the limit's per-second) seconds, 5 % longer for
// the limiter's one-second windows, so that A is admitted every time (its requests' own time on top).
const A_QUERY_COST = 4_000;
const A_PACED = {
  ingestPauseMs: Math.ceil((A_SPANS / LIMITS.ingest.itemsPerSecond) * 1050),
  queryPauseMs: Math.ceil((A_QUERY_COST / LIMITS.graphql.costPerSecond) * 1050),
};

async function phase(name: string, limits: boolean, a: AWork, index: number): Promise<[string, Side]> {
  const overrides = merge(
    { processors: { batch: { timeoutMs: BATCH_MS } }, ...(limits ? { limits: LIMITS } : {}), ...(DUCKDB_THREADS ? { storage: { duckdb: { threads: DUCKDB_THREADS } } } : {}) },
    limits ? LIMITED_EXTRA : {},
  );
  const gw = SHAPE === 'child' ? await childGateway(overrides) : await inProcessGateway(overrides);
  try {
    const common = { otlpHttp: gw.otlpHttp, otlpGrpc: gw.otlpGrpc, protocol: PROTOCOL as 'http' | 'grpc', graphqlUrl: gw.graphqlUrl, seconds: SECONDS, warmupSeconds: WARMUP, flooders: FLOODERS, aWork: A_WORK, aSpans: A_SPANS } as const;
    const clients = Promise.all([runClients({ ...common, role: 'b' }), a === 'none' ? undefined : runClients({ ...common, role: 'a', ...(a === 'within limits' ? { aPaced: A_PACED } : {}) })]);
    await new Promise((resolve) => setTimeout(resolve, WARMUP * 1000));
    gw.begin();
    const [b, aSide] = await clients;
    const g = await gw.read();
    const cpu = g.cpuMs
      ? `gateway CPU ${fmt(g.cpuMs.main / 10 / SECONDS, 0)} % main thread + ${fmt(g.cpuMs.other / 10 / SECONDS, 0)} % other threads (of one core), its threads waited ${fmt(g.cpuMs.waitingForCpu / 10 / SECONDS, 0)} % for a CPU; `
      : '';
    console.log(
      `  ${name}: ${cpu}gateway event-loop busy ${fmt(g.busy * 100, 0)} %, delay p99 ${fmt(g.delayP99Ms)} ms, max ${fmt(g.delayMaxMs)} ms; ` +
        `client workers busy B ${fmt(b.busy * 100, 0)} %${aSide ? `, A ${fmt(aSide.busy * 100, 0)} %` : ''}; load average ${loadavg().map((l) => fmt(l, 2)).join(' ')}`,
    );
    if (aSide) {
      console.log(
        `  ${name}: A got ${fmt(aSide.ingestOk / SECONDS, 0)} spans/s in and ${fmt(aSide.queryOk / SECONDS, 1)} queries/s answered; ` +
          `${aSide.ingestRefused} ingest and ${aSide.queryRefused} query requests refused, ${aSide.ingestErrors} ingest socket errors; A query p50 ${fmt(summarize(aSide.queryMs).p50)} ms`,
      );
    }
    if (b.ingestRefused + b.queryRefused > 0) console.log(`  ${name}: B refused by ${JSON.stringify(b.refusedBy)}`);
    // Where B's query time goes inside the store: waiting for a read lane, or running beside others.
    for (const [tenant, st] of g.reads) {
      if (!st.statements) continue;
      console.log(
        `  ${name}: DuckDB reads of ${tenant || '(gateway)'}: ${st.statements} statements, per statement ${fmt(st.waitMs / st.statements)} ms waiting for a lane, ` +
          `${fmt(st.runMs / st.statements)} ms running (share ${fmt(st.shareMs / st.statements)} ms)`,
      );
    }
    const sums = (gatewaySums[index] ??= { busyMs: 0, mainMs: 0, otherMs: 0, waitingForCpuMs: 0, bStatements: 0, bRunMs: 0 });
    sums.busyMs += g.busy * SECONDS * 1000;
    sums.mainMs += g.cpuMs?.main ?? NaN;
    sums.otherMs += g.cpuMs?.other ?? NaN;
    sums.waitingForCpuMs += g.cpuMs?.waitingForCpu ?? NaN;
    const bReads = g.reads.find(([tenant]) => tenant === 'b')?.[1];
    sums.bStatements += bReads?.statements ?? 0;
    sums.bRunMs += bReads?.runMs ?? 0;
    return [name, b];
  } finally {
    await gw.stop();
  }
}

// In the child shape, this process (the clients' workers are created later and inherit it) keeps off the gateway's cores.
if (SHAPE === 'child') execFileSync('taskset', ['-a', '-cp', CLIENT_CPUS, String(process.pid)], { stdio: 'ignore' });
console.log(`bench:abuse on ${machine()}; ${SHAPE === 'child' ? `gateway in a child process on CPU ${GATEWAY_CPUS}, clients on CPU ${CLIENT_CPUS}` : 'gateway on the main thread, unpinned'}; batch timeout ${BATCH_MS} ms; ${SECONDS} s per phase after ${WARMUP} s of warm-up, A's ingest over ${PROTOCOL === 'grpc' ? 'OTLP/gRPC' : 'OTLP/HTTP JSON'}, ${FLOODERS} flooding ingest clients and ${Math.max(1, FLOODERS / 2)} query clients for tenant A`);
// --limited-only 1: just the third phase (for profiling it with --cpu-prof). --rounds N runs the
// phases N times in turn and adds up each phase's figures, so a machine whose load changes during
// the run weighs on every phase alike.
const ROUNDS = Math.max(1, arg('rounds', 1));
// "A within limits" is what the limits let A cost B (A's admitted work shares the gateway's core
// with B's); "A floods, limits on" beside it shows what the flood costs B beyond that.
const PHASES: [string, boolean, AWork][] = arg('limited-only', 0)
  ? [['A floods, limits on', true, 'flood']]
  : [
      ['B alone', false, 'none'],
      ['A within limits', true, 'within limits'],
      ['A floods, no limits', false, 'flood'],
      ['A floods, limits on', true, 'flood'],
    ];
const results: [string, Side][] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [name, limits, a]] of PHASES.entries()) {
    const [, side] = await phase(name, limits, a, i);
    const sum = results[i]?.[1];
    if (!sum) results[i] = [name, side];
    else {
      sum.ingestOk += side.ingestOk;
      sum.ingestRefused += side.ingestRefused;
      sum.ingestErrors += side.ingestErrors;
      sum.queryOk += side.queryOk;
      sum.queryRefused += side.queryRefused;
      sum.ingestMs.push(...side.ingestMs);
      sum.queryMs.push(...side.queryMs);
      for (const [limit, n] of Object.entries(side.refusedBy)) sum.refusedBy[limit] = (sum.refusedBy[limit] ?? 0) + n;
    }
  }
}
const TOTAL_SECONDS = SECONDS * ROUNDS;
const rows: [string, (s: Side) => string][] = [
  ['B ingest spans/s', (s) => fmt(s.ingestOk / TOTAL_SECONDS, 0)],
  ['B ingest p50 ms', (s) => fmt(summarize(s.ingestMs).p50)],
  ['B ingest p99 ms', (s) => fmt(summarize(s.ingestMs).p99)],
  ['B queries/s', (s) => fmt(s.queryOk / TOTAL_SECONDS, 1)],
  ['B query p50 ms', (s) => fmt(summarize(s.queryMs).p50)],
  ['B query p99 ms', (s) => fmt(summarize(s.queryMs).p99)],
  ['B requests timed', (s) => `${s.ingestMs.length} + ${s.queryMs.length}`],
  ['B refused', (s) => String(s.ingestRefused + s.queryRefused)],
  ['B socket errors', (s) => String(s.ingestErrors)],
];
const perCore = (ms: number) => `${fmt(ms / 10 / TOTAL_SECONDS, 0)} %`;
const gatewayRows: [string, (g: GatewaySums) => string][] = [
  ['gateway loop busy', (g) => perCore(g.busyMs)],
  ...(SHAPE === 'child'
    ? ([
        ['gateway CPU main', (g) => perCore(g.mainMs)],
        ['gateway CPU other', (g) => perCore(g.otherMs)],
        ['gateway wait for CPU', (g) => perCore(g.waitingForCpuMs)],
      ] as [string, (g: GatewaySums) => string][])
    : []),
  ['B DuckDB ms/statement', (g) => fmt(g.bRunMs / g.bStatements)],
];
console.log(['', ...results.map(([n]) => n)].map((c) => c.padEnd(22)).join(''));
for (const [label, f] of rows) console.log([label, ...results.map(([, s]) => f(s))].map((c) => c.padEnd(22)).join(''));
for (const [label, f] of gatewayRows) console.log([label, ...gatewaySums.map(f)].map((c) => c.padEnd(22)).join(''));
const base = results[0]![1];
for (const [n, s] of results.slice(1)) {
  console.log(
    `${n}: B query p50 ×${fmt(summarize(s.queryMs).p50 / summarize(base.queryMs).p50, 2)}, ` +
      `B ingest throughput ×${fmt(s.ingestOk / base.ingestOk, 2)}, B query throughput ×${fmt(s.queryOk / base.queryOk, 2)} of baseline`,
  );
}
// What the flood costs B beyond A's allowance: the flood against A within the same limits.
const paced = results.find(([n]) => n === 'A within limits')?.[1];
const limited = results.find(([n]) => n === 'A floods, limits on')?.[1];
if (paced && limited) {
  const ratio = (f: (s: Side) => number) => fmt(f(limited) / f(paced), 2);
  console.log(
    `A floods, limits on, against A within limits: B ingest throughput ×${ratio((s) => s.ingestOk)}, queries ×${ratio((s) => s.queryOk)}, ` +
      `ingest p50 ×${ratio((s) => summarize(s.ingestMs).p50)}, p99 ×${ratio((s) => summarize(s.ingestMs).p99)}, ` +
      `query p50 ×${ratio((s) => summarize(s.queryMs).p50)}, p99 ×${ratio((s) => summarize(s.queryMs).p99)}`,
  );
}
