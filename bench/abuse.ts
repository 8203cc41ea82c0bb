// One tenant floods ingest and queries while a second tenant's ingest and queries are measured,
// side by side: B alone (baseline), B while A floods with no limits, B while A floods with
// per-tenant limits on. Same process, same run, so machine load affects every column alike.
//   npm run bench:abuse -- --seconds 8 --flooders 8
import { startGateway, type TestGateway } from '../test/helpers/gateway.ts';
import { spansJson } from '../test/helpers/otlp-bodies.ts';
import { arg, fmt, machine, summarize } from './lib.ts';

const SECONDS = arg('seconds', 8);
const FLOODERS = arg('flooders', 8);
const LIMITS = { ingest: { itemsPerSecond: 1_000, bytesPerSecond: 0 }, graphql: { requestsPerSecond: 50, concurrentPerTenant: 1, timeoutMs: 2_000 } };

interface Side {
  ingestOk: number;
  ingestRefused: number;
  ingestMs: number[];
  queryOk: number;
  queryRefused: number;
  queryMs: number[];
}
const side = (): Side => ({ ingestOk: 0, ingestRefused: 0, ingestMs: [], queryOk: 0, queryRefused: 0, queryMs: [] });

async function client(gw: TestGateway, tenant: string, until: number, s: Side, opts: { spans: number; query: string; pauseMs: number }): Promise<void> {
  const body = JSON.stringify(spansJson(Array.from({ length: opts.spans }, (_, i) => ({ service: `svc-${tenant}`, name: `op-${i % 20}`, attributes: { 'http.route': `/r/${i % 50}` } }))));
  const headers = { 'content-type': 'application/json', 'x-scope-orgid': tenant };
  while (Date.now() < until) {
    let t0 = performance.now();
    const r = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers, body });
    await r.arrayBuffer();
    if (r.status === 200) {
      s.ingestOk += opts.spans;
      s.ingestMs.push(performance.now() - t0);
    } else s.ingestRefused++;
    t0 = performance.now();
    const q = await fetch(gw.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query: opts.query }) });
    await q.arrayBuffer();
    if (q.status === 200) {
      s.queryOk++;
      s.queryMs.push(performance.now() - t0);
    } else s.queryRefused++;
    if (opts.pauseMs) await new Promise((res) => setTimeout(res, opts.pauseMs));
  }
}

const B_QUERY = '{ traces(limit: 10, filter: { service: ["svc-b"] }) { traceId spanCount } }';
const A_QUERY = '{ spans(first: 1000, filter: { attributes: [{ key: "http.route", regex: ".*/(1|2|3).*" }] }) { nodes { name attributes } } }';

async function phase(name: string, limits: boolean, flood: boolean): Promise<[string, Side]> {
  const gw = await startGateway(limits ? { limits: LIMITS } : {});
  try {
    const until = Date.now() + SECONDS * 1000;
    const b = side();
    const a = side();
    await Promise.all([
      client(gw, 'b', until, b, { spans: 50, query: B_QUERY, pauseMs: 20 }),
      ...(flood ? Array.from({ length: FLOODERS }, () => client(gw, 'a', until, a, { spans: 2000, query: A_QUERY, pauseMs: 0 })) : []),
    ]);
    if (flood) console.log(`  ${name}: flooder A got ${a.ingestOk} spans in, ${a.ingestRefused} ingest and ${a.queryRefused} query requests refused`);
    return [name, b];
  } finally {
    await gw.stop();
  }
}

console.log(`bench:abuse on ${machine()}; ${SECONDS} s per phase, ${FLOODERS} flooding clients for tenant A`);
const results = [await phase('B alone', false, false), await phase('A floods, no limits', false, true), await phase('A floods, limits on', true, true)];
const rows: [string, (s: Side) => string][] = [
  ['B ingest spans/s', (s) => fmt(s.ingestOk / SECONDS, 0)],
  ['B ingest p50 ms', (s) => fmt(summarize(s.ingestMs).p50)],
  ['B ingest p99 ms', (s) => fmt(summarize(s.ingestMs).p99)],
  ['B queries/s', (s) => fmt(s.queryOk / SECONDS, 1)],
  ['B query p50 ms', (s) => fmt(summarize(s.queryMs).p50)],
  ['B query p99 ms', (s) => fmt(summarize(s.queryMs).p99)],
  ['B refused', (s) => String(s.ingestRefused + s.queryRefused)],
];
console.log(['', ...results.map(([n]) => n)].map((c) => c.padEnd(22)).join(''));
for (const [label, f] of rows) console.log([label, ...results.map(([, s]) => f(s))].map((c) => c.padEnd(22)).join(''));
const base = results[0]![1];
for (const [n, s] of results.slice(1)) {
  console.log(`${n}: B query p50 ×${fmt(summarize(s.queryMs).p50 / summarize(base.queryMs).p50, 2)}, B ingest throughput ×${fmt(s.ingestOk / base.ingestOk, 2)} of baseline`);
}
