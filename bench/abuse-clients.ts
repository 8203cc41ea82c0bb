// The clients of bench:abuse, run in a worker thread so that building and sending requests does not
// share the gateway's event loop: tenant B's ingest and query loops, and (when flooding) tenant A's.
import { parentPort, workerData } from 'node:worker_threads';
import { spansJson } from '../test/helpers/otlp-bodies.ts';

export interface ClientPlan {
  otlpHttp: string;
  graphqlUrl: string;
  seconds: number;
  flooders: number;
  flood: boolean;
}

export interface Side {
  ingestOk: number;
  ingestRefused: number;
  ingestMs: number[];
  queryOk: number;
  queryRefused: number;
  queryMs: number[];
}
const side = (): Side => ({ ingestOk: 0, ingestRefused: 0, ingestMs: [], queryOk: 0, queryRefused: 0, queryMs: [] });

const B_QUERY = '{ traces(limit: 10, filter: { service: ["svc-b"] }) { traceId spanCount } }';
const A_QUERY = '{ spans(first: 1000, filter: { attributes: [{ key: "http.route", regex: ".*/(1|2|3).*" }] }) { nodes { name attributes } } }';

const headersOf = (tenant: string) => ({ 'content-type': 'application/json', 'x-scope-orgid': tenant });
const pause = (ms: number) => (ms ? new Promise((res) => setTimeout(res, ms)) : Promise.resolve());

async function ingestLoop(plan: ClientPlan, tenant: string, until: number, s: Side, spans: number, pauseMs: number): Promise<void> {
  const body = JSON.stringify(
    spansJson(Array.from({ length: spans }, (_, i) => ({ service: `svc-${tenant}`, name: `op-${i % 20}`, attributes: { 'http.route': `/r/${i % 50}` } }))),
  );
  while (Date.now() < until) {
    const t0 = performance.now();
    try {
      const r = await fetch(`${plan.otlpHttp}/v1/traces`, { method: 'POST', headers: headersOf(tenant), body });
      await r.arrayBuffer();
      if (r.status === 200) {
        s.ingestOk += spans;
        s.ingestMs.push(performance.now() - t0);
      } else s.ingestRefused++;
    } catch {
      s.ingestRefused++;
    }
    await pause(pauseMs);
  }
}

async function queryLoop(plan: ClientPlan, tenant: string, until: number, s: Side, query: string, pauseMs: number): Promise<void> {
  while (Date.now() < until) {
    const t0 = performance.now();
    try {
      const q = await fetch(plan.graphqlUrl, { method: 'POST', headers: headersOf(tenant), body: JSON.stringify({ query }) });
      await q.arrayBuffer();
      if (q.status === 200) {
        s.queryOk++;
        s.queryMs.push(performance.now() - t0);
      } else s.queryRefused++;
    } catch {
      s.queryRefused++;
    }
    await pause(pauseMs);
  }
}

const plan = workerData as ClientPlan;
const until = Date.now() + plan.seconds * 1000;
const a = side();
const b = side();
await Promise.all([
  // B stays within the limits of the third phase (≤ 500 spans/s of 1,000, ≤ 20 queries/s costing 30
  // each), so only A's flood, not B's own limit, can lower B's figures.
  ingestLoop(plan, 'b', until, b, 50, 100),
  queryLoop(plan, 'b', until, b, B_QUERY, 20),
  ...(plan.flood
    ? [
        ...Array.from({ length: plan.flooders }, () => ingestLoop(plan, 'a', until, a, 2000, 0)),
        ...Array.from({ length: Math.max(1, plan.flooders / 2) }, () => queryLoop(plan, 'a', until, a, A_QUERY, 0)),
      ]
    : []),
]);
parentPort!.postMessage({ a, b });
