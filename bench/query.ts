// npm run bench:query — loads 1,000,000 spans (100,000 traces × 10 spans, 10 attributes each,
// spread over the last 2 hours) into a file-backed DuckDB store through the store writer, then times
// GraphQL queries over a real socket: trace-by-id, spans by trace ID filter, attribute searches
// (span and resource attributes) over the last 15 minutes, services, and `{ __typename }` (no store
// read: the fixed cost of a GraphQL request).
// The gateway answering the queries runs as a child process (`teleql serve` on the loaded file, as
// users run it), so this process's client work and GC do not land in its latencies. Beside p50/p99
// it prints the gateway's CPU time per request (the wall-clock percentiles move with other load on
// the machine, CPU per request much less), the part of it on the gateway's main thread (JavaScript:
// HTTP, GraphQL, resolvers, row conversion, most GC; DuckDB runs on other threads) and splits each request's time (bench/query-probe.ts):
// DuckDB statements, the gateway's GC pauses, this client's GC pauses, and the rest (GraphQL, row
// conversion, HTTP).
// Options: --spans N (default 1000000), --runs N (default 200), --threads N (storage.duckdb.threads,
// default the config's), --memory-limit SIZE (storage.duckdb.memoryLimit, e.g. 256MB), --only TEXT (run only the queries whose name contains TEXT),
// --db FILE (keep the loaded store in FILE; when FILE exists it is opened instead of loaded, so two
// versions of the code can be compared on the same data), --histogram (print each query's latency
// histogram and its slowest requests), --in-process (the gateway in this process, as before
// 2026-12-02: client and gateway share one heap and event loop), --profile DIR (the child gateway
// writes a V8 CPU profile there when it exits), --gateway-node-flags "FLAGS" (node / V8 flags for the
// child gateway, space-separated, e.g. "--trace-gc --max-semi-space-size=32").
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { startGateway, type TestGateway } from '../test/helpers/gateway.ts';
import { gqlData } from '../test/helpers/graphql-client.ts';
import { syntheticTraces } from './synthetic.ts';
import { arg, cpuSeconds, fmt, machine, summarize, threadSchedMs, waitForReady } from './lib.ts';
import type { Interval, ProbeRecords } from './query-probe.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { distIsFresh } from '../bin/dist-fresh.js';

const spanCount = arg('spans', 1_000_000);
// What `npm start` runs: dist/ when it is fresh (decided once, so the report says what ran).
const fromDist = distIsFresh();
const runs = arg('runs', 200);
const threads = arg('threads', 0);
const textArg = (name: string): string | null => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? null : (process.argv[i + 1] ?? null);
};
const only = textArg('only');
const keptFile = textArg('db');
const inProcess = process.argv.includes('--in-process');
const histogram = process.argv.includes('--histogram');
const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-query-'));
const dbFile = keptFile ?? join(dir, 'bench.duckdb');
const reuse = keptFile !== null && existsSync(keptFile);
const memoryLimit = textArg('memory-limit');
const duckdb = { ...(threads ? { threads } : {}), ...(memoryLimit ? { memoryLimit } : {}) };

/** The queries' server: its GraphQL URL, the process whose CPU it uses, its probe records, stop. */
interface Server {
  graphqlUrl: string;
  pid: number;
  probe(msg: 'reset'): void;
  probe(msg: 'read'): Promise<ProbeRecords>;
  stop(): Promise<void>;
}

async function childServer(): Promise<Server> {
  const [grpcPort, httpPort, gqlPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = join(dir, 'teleql.yaml');
  const settings = [`    path: ${dbFile}`, ...(threads ? [`    threads: ${threads}`] : []), ...(memoryLimit ? [`    memoryLimit: ${memoryLimit}`] : [])];
  writeFileSync(configFile, `storage:\n  duckdb:\n${settings.join('\n')}\n`);
  const profileDir = textArg('profile');
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const nodeFlags = textArg('gateway-node-flags')?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [...profile, ...nodeFlags, '--import', 'tsx', '--import', './bench/query-probe.ts', fromDist ? 'dist/src/main.js' : 'src/main.ts', 'serve', '--config', configFile], {
    env: { ...process.env, TELEQL_OTLP_GRPC_PORT: String(grpcPort), TELEQL_OTLP_HTTP_PORT: String(httpPort), TELEQL_GRAPHQL_PORT: String(gqlPort), TELEQL_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kill = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  await waitForReady(gqlPort, 120_000);
  return {
    graphqlUrl: `http://127.0.0.1:${gqlPort}/graphql`,
    pid: child.pid!,
    probe: ((msg: 'reset' | 'read') => {
      if (msg === 'reset') return void child.send('reset');
      return new Promise<ProbeRecords>((resolve) => {
        child.once('message', (m) => resolve((m as { probe: ProbeRecords }).probe));
        child.send('read');
      });
    }) as Server['probe'],
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function inProcessServer(gw: TestGateway): Promise<Server> {
  const { takeRecords } = await import('./query-probe.ts');
  return {
    graphqlUrl: gw.graphqlUrl,
    pid: process.pid,
    probe: ((msg: 'reset' | 'read') => {
      const r = takeRecords();
      return msg === 'read' ? Promise.resolve(r) : undefined;
    }) as Server['probe'],
    stop: async () => {}, // the loader's gateway: stopped below
  };
}

// This process's GC pauses, on the same absolute clock as the probe's.
let clientGc: Interval[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) clientGc.push({ start: performance.timeOrigin + e.startTime, end: performance.timeOrigin + e.startTime + e.duration });
}).observe({ entryTypes: ['gc'] });
const clock = () => performance.timeOrigin + performance.now();

/** Milliseconds of `within` covered by `intervals` (sorted by start; overlaps counted once). */
function covered(intervals: readonly Interval[], within: Interval): number {
  let total = 0;
  let reach = within.start;
  for (const i of intervals) {
    if (i.end <= reach || i.start >= within.end) continue;
    const s = Math.max(i.start, reach);
    const e = Math.min(i.end, within.end);
    if (e > s) total += e - s;
    reach = Math.max(reach, e);
  }
  return total;
}

let server: Server | null = null;
let loader: TestGateway | null = null;
try {
  let now = Date.now();
  let traceIds: string[] = [];
  console.log(`machine: ${machine()}`);
  console.log(fromDist ? 'gateway: dist/ (what npm start runs)' : 'gateway: the TypeScript sources through tsx (dist/ is missing or older than a source: `npm run build` to measure what npm start runs)');
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  loader = await startGateway({ storage: { duckdb } }, dbFile);
  const store = loader.app.internals.store()!;
  if (reuse) {
    // The searches look back 15 minutes from the newest span, as they do right after a load.
    const [last] = await store.db.query('SELECT max(start_ns) AS t FROM spans');
    now = Number((last?.t as bigint) / 1_000_000n);
    traceIds = (await store.db.query('SELECT DISTINCT trace_id FROM trace_ranges')).map((r) => r.trace_id as string);
    console.log(`opened ${keptFile} (${fmt(traceIds.length, 0)} traces)`);
  } else {
    const t0 = performance.now();
    let batch: Parameters<typeof store.writer.writeSpans>[0][number][] = [];
    for (const trace of syntheticTraces(spanCount / 10, now - 2 * 3600_000, now)) {
      traceIds.push(trace[0]!.traceId);
      batch.push(...trace);
      if (batch.length >= 20_000) {
        await store.writer.writeSpans(batch);
        batch = [];
      }
    }
    if (batch.length) await store.writer.writeSpans(batch);
    const loadS = (performance.now() - t0) / 1000;
    console.log(`loaded ${fmt(spanCount, 0)} spans in ${fmt(loadS)} s (${fmt(spanCount / loadS, 0)} spans/s through the store writer)`);
  }
  if (inProcess) server = await inProcessServer(loader);
  else {
    await loader.stop(); // checkpoints and releases the file for the child
    loader = null;
    server = await childServer();
  }
  console.log(`gateway: ${inProcess ? 'in this process' : `child process ${server.pid}`}`);
  const graphqlUrl = server.graphqlUrl;

  const from = new Date(now - 15 * 60_000).toISOString();
  const cases: { name: string; query: string; vars: () => Record<string, unknown> }[] = [
    {
      name: 'trace by id (10 spans, all fields)',
      query: 'query($id: ID!) { trace(traceId: $id) { traceId spanCount spans { spanId parentSpanId name kind startTime duration attributes status { code } } } }',
      vars: () => ({ id: traceIds[Math.floor(Math.random() * traceIds.length)] }),
    },
    {
      name: 'spans(filter: { traceId }) (10 spans, IDs only)',
      query: 'query($id: ID!) { spans(filter: { traceId: [$id] }, first: 20) { edges { node { spanId } } } }',
      vars: () => ({ id: traceIds[Math.floor(Math.random() * traceIds.length)] }),
    },
    {
      name: 'spans where service.name = checkout (a resource attribute), last 15 min',
      query: 'query($from: Timestamp!) { spans(filter: { from: $from, attributes: [{ key: "service.name", eq: "checkout" }] }, first: 50) { edges { node { spanId } } } }',
      vars: () => ({ from }),
    },
    {
      name: 'spans where user.id = X, last 15 min',
      query: 'query($from: Timestamp!, $user: String!) { spans(filter: { from: $from, attributes: [{ key: "user.id", eq: $user }] }, first: 50) { edges { node { spanId name } } } }',
      vars: () => ({ from, user: `user-${Math.floor(Math.random() * 5000)}` }),
    },
    {
      name: 'spans where user.tier = enterprise AND http.response.status_code >= 500, last 15 min',
      query: 'query($from: Timestamp!) { spans(filter: { from: $from, attributes: [{ key: "user.tier", eq: "enterprise" }, { key: "http.response.status_code", gte: 500 }] }, first: 50) { edges { node { spanId } } } }',
      vars: () => ({ from }),
    },
    {
      name: 'traces where user.id = X, last 15 min (summaries)',
      query: 'query($from: Timestamp!, $user: String!) { traces(filter: { from: $from, attributes: [{ key: "user.id", eq: $user }] }, limit: 20) { traceId spanCount errorCount services } }',
      vars: () => ({ from, user: `user-${Math.floor(Math.random() * 5000)}` }),
    },
    { name: 'services', query: '{ services }', vars: () => ({}) },
    // No store read: what any GraphQL request costs (HTTP, Yoga, admission, limits), beside the rest.
    { name: '{ __typename } (no store read)', query: '{ __typename }', vars: () => ({}) },
  ];
  console.log(`\n${'query'.padEnd(90)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'CPU ms'.padStart(8)} ${'main ms'.padStart(8)}  runs`);
  const mainThreadMs = (pid: number) => threadSchedMs(pid).get(String(pid))?.runMs ?? NaN;
  const splits: string[] = [];
  for (const c of cases.filter((k) => only === null || k.name.includes(only))) {
    for (let i = 0; i < 5; i++) await gqlData(graphqlUrl, c.query, c.vars()); // warm-up
    const requests: Interval[] = [];
    server.probe('reset');
    clientGc = [];
    const cpu0 = cpuSeconds(server.pid);
    const main0 = mainThreadMs(server.pid);
    for (let i = 0; i < runs; i++) {
      const vars = c.vars();
      const start = clock();
      await gqlData(graphqlUrl, c.query, vars);
      requests.push({ start, end: clock() });
    }
    const cpuMs = ((cpuSeconds(server.pid) - cpu0) * 1000) / runs;
    const mainMs = (mainThreadMs(server.pid) - main0) / runs;
    const probe = await server.probe('read');
    const byStart = (a: Interval, b: Interval) => a.start - b.start;
    const [statements, gatewayGc, ownGc] = [probe.statements.sort(byStart), probe.gc.sort(byStart), clientGc.sort(byStart)];
    const parts = requests.map((r) => {
      const total = r.end - r.start;
      const db = covered(statements, r);
      const gc = covered(gatewayGc, r);
      const client = inProcess ? 0 : covered(ownGc, r);
      return { total, db, gc, client, rest: total - db - gc - client };
    });
    const r = summarize(parts.map((p) => p.total));
    console.log(`${c.name.padEnd(90)} ${fmt(r.p50, 2).padStart(8)} ${fmt(r.p99, 2).padStart(8)} ${fmt(cpuMs, 2).padStart(8)} ${fmt(mainMs, 2).padStart(8)}  ${r.n}`);
    const pct = (key: 'db' | 'gc' | 'client' | 'rest') => {
      const s = summarize(parts.map((p) => p[key]));
      return `${fmt(s.p50, 2)} / ${fmt(s.p99, 2)}`;
    };
    const slowest = [...parts].sort((a, b) => b.total - a.total).slice(0, Math.max(2, Math.ceil(runs / 100)));
    const avg = (key: 'total' | 'db' | 'gc' | 'client' | 'rest') => fmt(slowest.reduce((a, p) => a + p[key], 0) / slowest.length, 1);
    const gcMs = gatewayGc.reduce((a, g) => a + g.end - g.start, 0);
    splits.push(
      `${c.name}\n  p50 / p99 ms: DuckDB ${pct('db')}, gateway GC ${pct('gc')}, client GC ${pct('client')}, rest ${pct('rest')}` +
        `\n  gateway GC pauses: ${gatewayGc.length} in ${runs} requests, ${fmt(gcMs / runs, 3)} ms per request` +
        `\n  slowest ${slowest.length} (mean ms): total ${avg('total')} = DuckDB ${avg('db')} + gateway GC ${avg('gc')} + client GC ${avg('client')} + rest ${avg('rest')}`,
    );
    if (histogram) splits.push(histogramText(parts.map((p) => p.total)));
  }
  console.log(`\nwhere the time goes (${inProcess ? 'gateway in this process: its GC counts as gateway GC' : 'gateway in a child process'}):`);
  for (const s of splits) console.log(s);
  console.log(`\nload average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('targets: trace-by-id p99 ≤ 20 ms; attribute search p99 ≤ 300 ms');
} finally {
  await server?.stop();
  await loader?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** Latencies in 2 ms buckets up to 40 ms, then 10 ms buckets, with a bar per bucket. */
function histogramText(samples: readonly number[]): string {
  const bucket = (ms: number) => (ms < 40 ? Math.floor(ms / 2) * 2 : Math.floor(ms / 10) * 10);
  const counts = new Map<number, number>();
  for (const s of samples) counts.set(bucket(s), (counts.get(bucket(s)) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([lo, n]) => `    ${String(lo).padStart(4)}–${String(lo + (lo < 40 ? 2 : 10)).padEnd(4)} ms ${String(n).padStart(4)} ${'#'.repeat(Math.ceil((n * 60) / samples.length))}`)
    .join('\n');
}
