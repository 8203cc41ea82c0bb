// One tenant floods ingest and queries while a second tenant's ingest and queries are measured,
// side by side: B alone (baseline), B while A floods with no limits, B while A floods with
// per-tenant limits on. Same process, same run, so machine load affects every column alike. Each
// tenant's clients run in their own worker thread (bench/abuse-clients.ts), the gateway on the main
// thread; each worker's event-loop utilization is printed, to show the load generator keeps up.
//   npm run bench:abuse -- --seconds 8 --flooders 8
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { startGateway } from '../test/helpers/gateway.ts';
import { arg, fmt, machine, summarize } from './lib.ts';
import type { ClientPlan, Side } from './abuse-clients.ts';

const SECONDS = arg('seconds', 8);
const FLOODERS = arg('flooders', 8);
// --protocol grpc: tenant A floods ingest over OTLP/gRPC (protobuf) instead of OTLP/HTTP JSON.
const PROTOCOL = process.argv[process.argv.indexOf('--protocol') + 1] === 'grpc' ? 'grpc' : 'http';
// --duckdb-threads N: storage.duckdb.threads for every phase (0 = DuckDB's default, one per core).
const DUCKDB_THREADS = arg('duckdb-threads', 0);
const LIMITS = { ingest: { itemsPerSecond: 1_000, bytesPerSecond: 0 }, graphql: { requestsPerSecond: 50, costPerSecond: 2_000, concurrentPerTenant: 1, timeoutMs: 2_000, duckdbMsPerSecond: arg('duckdb-ms', 0) } };

function runClients(plan: ClientPlan): Promise<Side> {
  return new Promise((resolve, reject) => {
    // tsx's loader does not reach a worker's entry file on Node 20: register it, then import.
    const entry = JSON.stringify(new URL('./abuse-clients.ts', import.meta.url).href);
    const w = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true, workerData: plan });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

async function phase(name: string, limits: boolean, flood: boolean): Promise<[string, Side]> {
  const gw = await startGateway({ ...(limits ? { limits: LIMITS } : {}), ...(DUCKDB_THREADS ? { storage: { duckdb: { threads: DUCKDB_THREADS } } } : {}) });
  try {
    // The gateway's event loop (this thread): how long its callbacks wait, i.e. what blocks everyone.
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const common = { otlpHttp: gw.otlpHttp, otlpGrpc: gw.otlpGrpc, protocol: PROTOCOL as 'http' | 'grpc', graphqlUrl: gw.graphqlUrl, seconds: SECONDS, flooders: FLOODERS };
    const elu = performance.eventLoopUtilization();
    const [b, a] = await Promise.all([runClients({ ...common, role: 'b' }), flood ? runClients({ ...common, role: 'a' }) : undefined]);
    delay.disable();
    const busy = performance.eventLoopUtilization(elu).utilization;
    console.log(
      `  ${name}: gateway event-loop busy ${fmt(busy * 100, 0)} %, delay p99 ${fmt(delay.percentile(99) / 1e6)} ms, max ${fmt(delay.max / 1e6)} ms; ` +
        `client workers busy B ${fmt(b.busy * 100, 0)} %${a ? `, A ${fmt(a.busy * 100, 0)} %` : ''}; load average ${loadavg().map((l) => fmt(l, 2)).join(' ')}`,
    );
    if (a) {
      console.log(
        `  ${name}: flooder A got ${fmt(a.ingestOk / SECONDS, 0)} spans/s in and ${fmt(a.queryOk / SECONDS, 1)} queries/s answered; ` +
          `${a.ingestRefused} ingest and ${a.queryRefused} query requests refused, ${a.ingestErrors} ingest socket errors; A query p50 ${fmt(summarize(a.queryMs).p50)} ms`,
      );
    }
    if (b.ingestRefused + b.queryRefused > 0) console.log(`  ${name}: B refused by ${JSON.stringify(b.refusedBy)}`);
    // Where B's query time goes inside the store: waiting for a read lane, or running beside others.
    for (const [tenant, st] of gw.app.internals.store()?.db.readStats() ?? []) {
      if (!st.statements) continue;
      console.log(
        `  ${name}: DuckDB reads of ${tenant || '(gateway)'}: ${st.statements} statements, per statement ${fmt(st.waitMs / st.statements)} ms waiting for a lane, ` +
          `${fmt(st.runMs / st.statements)} ms running (share ${fmt(st.shareMs / st.statements)} ms)`,
      );
    }
    return [name, b];
  } finally {
    await gw.stop();
  }
}

console.log(`bench:abuse on ${machine()}; ${SECONDS} s per phase, A's ingest over ${PROTOCOL === 'grpc' ? 'OTLP/gRPC' : 'OTLP/HTTP JSON'}, ${FLOODERS} flooding ingest clients and ${Math.max(1, FLOODERS / 2)} query clients for tenant A`);
// --limited-only 1: just the third phase (for profiling it with --cpu-prof). --rounds N runs the
// phases N times in turn and adds up each phase's figures, so a machine whose load changes during
// the run weighs on every phase alike.
const ROUNDS = Math.max(1, arg('rounds', 1));
const PHASES: [string, boolean, boolean][] = arg('limited-only', 0)
  ? [['A floods, limits on', true, true]]
  : [['B alone', false, false], ['A floods, no limits', false, true], ['A floods, limits on', true, true]];
const results: [string, Side][] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [name, limits, flood]] of PHASES.entries()) {
    const [, side] = await phase(name, limits, flood);
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
  ['B refused', (s) => String(s.ingestRefused + s.queryRefused)],
  ['B socket errors', (s) => String(s.ingestErrors)],
];
console.log(['', ...results.map(([n]) => n)].map((c) => c.padEnd(22)).join(''));
for (const [label, f] of rows) console.log([label, ...results.map(([, s]) => f(s))].map((c) => c.padEnd(22)).join(''));
const base = results[0]![1];
for (const [n, s] of results.slice(1)) {
  console.log(
    `${n}: B query p50 ×${fmt(summarize(s.queryMs).p50 / summarize(base.queryMs).p50, 2)}, ` +
      `B ingest throughput ×${fmt(s.ingestOk / base.ingestOk, 2)}, B query throughput ×${fmt(s.queryOk / base.queryOk, 2)} of baseline`,
  );
}
