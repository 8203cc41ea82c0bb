// npm run bench:query — loads 1,000,000 spans (100,000 traces × 10 spans, 10 attributes each,
// spread over the last 2 hours) into a file-backed DuckDB store, then times GraphQL queries over a
// real socket: trace-by-id, spans by trace ID filter, attribute searches (span and resource
// attributes) over the last 15 minutes, and services. Beside p50/p99 it prints the process CPU time
// per request (the gateway and DuckDB's threads run in this process): on a shared machine wall-clock
// percentiles move with the other load, CPU per request much less.
// Options: --spans N (default 1000000), --runs N (default 200), --threads N (storage.duckdb.threads,
// default the config's), --memory-limit SIZE (storage.duckdb.memoryLimit, e.g. 256MB), --only TEXT (run only the queries whose name contains TEXT),
// --db FILE (keep the loaded store in FILE; when FILE exists it is opened instead of loaded, so two
// versions of the code can be compared on the same data).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../test/helpers/gateway.ts';
import { gqlData } from '../test/helpers/graphql-client.ts';
import { syntheticTraces } from './synthetic.ts';
import { arg, fmt, machine, summarize } from './lib.ts';

const spanCount = arg('spans', 1_000_000);
const runs = arg('runs', 200);
const threads = arg('threads', 0);
const textArg = (name: string): string | null => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? null : (process.argv[i + 1] ?? null);
};
const only = textArg('only');
const keptFile = textArg('db');
const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-query-'));
const dbFile = keptFile ?? join(dir, 'bench.duckdb');
const reuse = keptFile !== null && existsSync(keptFile);
const memoryLimit = textArg('memory-limit');
const duckdb = { ...(threads ? { threads } : {}), ...(memoryLimit ? { memoryLimit } : {}) };
const gw = await startGateway({ storage: { duckdb } }, dbFile);
try {
  const store = gw.app.internals.store()!;
  let now = Date.now();
  let traceIds: string[] = [];
  console.log(`machine: ${machine()}`);
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
  ];
  console.log(`\n${'query'.padEnd(90)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'CPU ms'.padStart(8)}  runs`);
  for (const c of cases.filter((k) => only === null || k.name.includes(only))) {
    for (let i = 0; i < 5; i++) await gqlData(gw.graphqlUrl, c.query, c.vars()); // warm-up
    const samples: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < runs; i++) {
      const vars = c.vars();
      const s = performance.now();
      await gqlData(gw.graphqlUrl, c.query, vars);
      samples.push(performance.now() - s);
    }
    const cpu = process.cpuUsage(cpu0);
    const r = summarize(samples);
    const cpuMs = (cpu.user + cpu.system) / 1000 / runs;
    console.log(`${c.name.padEnd(90)} ${fmt(r.p50, 2).padStart(8)} ${fmt(r.p99, 2).padStart(8)} ${fmt(cpuMs, 2).padStart(8)}  ${r.n}`);
  }
  console.log('\ntargets: trace-by-id p99 ≤ 20 ms; attribute search p99 ≤ 300 ms');
} finally {
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
}
