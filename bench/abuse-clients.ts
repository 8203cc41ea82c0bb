// The clients of bench:abuse, one worker thread per tenant so that neither building and sending
// requests nor the other tenant's flood shares the gateway's event loop or B's: tenant B's ingest
// and query loops, or tenant A's flood. Bodies are encoded once and sent as Buffers over kept-alive
// node:http connections, so the load generator costs little beside the gateway (A's flood through
// fetch spent most of a core re-encoding its 768 KB string body for every request).
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { spansJson, toProtobuf } from '../test/helpers/otlp-bodies.ts';
import { exportServiceDefinition } from '../ingest/receivers/otlp/grpc.ts';

export interface ClientPlan {
  role: 'a' | 'b';
  otlpHttp: string;
  graphqlUrl: string;
  /** host:port of OTLP/gRPC, for tenant A's flood with `--protocol grpc`. */
  otlpGrpc: string;
  protocol: 'http' | 'grpc';
  seconds: number;
  /** Seconds the clients run before the measured `seconds`, not counted: each phase's gateway is fresh (JIT, first writes, the embedder's load). */
  warmupSeconds: number;
  flooders: number;
  /** Which of tenant A's floods run (`--a-work ingest|queries|both`), to see which one costs B what. */
  aWork: 'ingest' | 'queries' | 'both';
  /** Spans in each of tenant A's ingest requests (`--a-spans`, 2,000 by default: a 768 KB OTLP/JSON body). */
  aSpans: number;
  /**
   * Tenant A within its limits instead of flooding: one ingest loop and one query loop, each pausing
   * this long after every request (ms), so that A uses its allowance and is not refused.
   */
  aPaced?: { ingestPauseMs: number; queryPauseMs: number };
}

export interface Side {
  ingestOk: number;
  ingestRefused: number;
  /** Requests that ended in a socket error instead of an HTTP answer. */
  ingestErrors: number;
  ingestMs: number[];
  queryOk: number;
  queryRefused: number;
  queryMs: number[];
  /** Refusals by the limit their message names (`limits.graphql.duckdbMsPerSecond`, …). */
  refusedBy: Record<string, number>;
  /** How busy this worker's event loop was while sending (0–1): near 1, the load generator is the limit. */
  busy: number;
}
const side = (): Side => ({ ingestOk: 0, ingestRefused: 0, ingestErrors: 0, ingestMs: [], queryOk: 0, queryRefused: 0, queryMs: [], refusedBy: {}, busy: 0 });

const B_QUERY = '{ traces(limit: 10, filter: { service: ["svc-b"] }) { traceId spanCount } }';
const A_QUERY = '{ spans(first: 1000, filter: { attributes: [{ key: "http.route", regex: ".*/(1|2|3).*" }] }) { nodes { name attributes } } }';

const pause = (ms: number) => (ms ? new Promise((res) => setTimeout(res, ms)) : Promise.resolve());

/** POSTs a pre-encoded body; the status (0 for a socket error) and, for a refusal, the limit it names. */
function post(url: string, agent: http.Agent, tenant: string, body: Buffer): Promise<{ status: number; limit?: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'x-scope-orgid': tenant } },
      (res) => {
        const status = res.statusCode ?? 0;
        let text = '';
        if (status === 200) res.resume();
        else res.on('data', (c: Buffer) => (text += c.toString()));
        res.once('end', () => resolve({ status, limit: /limits\.[a-zA-Z.]+/.exec(text)?.[0] ?? (status === 200 ? undefined : `HTTP ${status}`) }));
        res.once('error', () => resolve({ status: 0 }));
      },
    );
    req.once('error', () => resolve({ status: 0 }));
    req.end(body);
  });
}

/** When the clients run: requests started before `from` (the warm-up) are not counted. */
interface Window {
  from: number;
  until: number;
}

/** Where a request starting now is counted: `counted` once the warm-up is over, before it a Side nobody reads. */
const sideNow = (window: Window, counted: Side): Side => (Date.now() >= window.from ? counted : side());

const refused = (s: Side, limit: string | undefined) => {
  if (limit) s.refusedBy[limit] = (s.refusedBy[limit] ?? 0) + 1;
};

async function ingestLoop(plan: ClientPlan, agent: http.Agent, tenant: string, window: Window, counted: Side, spans: number, pauseMs: number): Promise<void> {
  const body = Buffer.from(
    JSON.stringify(spansJson(Array.from({ length: spans }, (_, i) => ({ service: `svc-${tenant}`, name: `op-${i % 20}`, attributes: { 'http.route': `/r/${i % 50}` } })))),
  );
  while (Date.now() < window.until) {
    const s = sideNow(window, counted);
    const t0 = performance.now();
    const { status, limit } = await post(`${plan.otlpHttp}/v1/traces`, agent, tenant, body);
    if (status === 200) {
      s.ingestOk += spans;
      s.ingestMs.push(performance.now() - t0);
    } else if (status === 0) s.ingestErrors++;
    else {
      s.ingestRefused++;
      refused(s, limit);
    }
    await pause(pauseMs);
  }
}

type ExportClient = grpc.Client & { Export(body: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void): void };

/** Tenant A's flood over OTLP/gRPC: one channel per loop, the protobuf message encoded once. */
async function grpcIngestLoop(plan: ClientPlan, tenant: string, window: Window, counted: Side, spans: number): Promise<void> {
  const body = toProtobuf('traces', spansJson(Array.from({ length: spans }, (_, i) => ({ service: `svc-${tenant}`, name: `op-${i % 20}`, attributes: { 'http.route': `/r/${i % 50}` } }))));
  const Client = grpc.makeGenericClientConstructor(exportServiceDefinition('traces'), 'Export');
  const client = new Client(plan.otlpGrpc, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 }) as unknown as ExportClient;
  const metadata = new grpc.Metadata();
  metadata.set('x-scope-orgid', tenant);
  while (Date.now() < window.until) {
    const s = sideNow(window, counted);
    const t0 = performance.now();
    const err = await new Promise<grpc.ServiceError | null>((resolve) => client.Export(body, metadata, (e) => resolve(e)));
    if (!err) {
      s.ingestOk += spans;
      s.ingestMs.push(performance.now() - t0);
    } else if (err.code === grpc.status.RESOURCE_EXHAUSTED) {
      s.ingestRefused++;
      refused(s, /limits\.[a-zA-Z.]+/.exec(err.details)?.[0] ?? 'RESOURCE_EXHAUSTED');
    } else s.ingestErrors++;
  }
  client.close();
}

async function queryLoop(plan: ClientPlan, agent: http.Agent, tenant: string, window: Window, counted: Side, query: string, pauseMs: number): Promise<void> {
  const body = Buffer.from(JSON.stringify({ query }));
  while (Date.now() < window.until) {
    const s = sideNow(window, counted);
    const t0 = performance.now();
    const { status, limit } = await post(plan.graphqlUrl, agent, tenant, body);
    if (status === 200) {
      s.queryOk++;
      s.queryMs.push(performance.now() - t0);
    } else {
      s.queryRefused++;
      refused(s, limit);
    }
    await pause(pauseMs);
  }
}

const plan = workerData as ClientPlan;
const measuredFrom = Date.now() + plan.warmupSeconds * 1000;
const runWindow: Window = { from: measuredFrom, until: measuredFrom + plan.seconds * 1000 };
const s = side();
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const elu = performance.eventLoopUtilization();
await Promise.all(
  plan.role === 'b'
    ? [
        // B stays within the limits of the third phase (≤ 500 spans/s of 1,000, ≤ 20 queries/s costing
        // 30 each), so only A's flood, not B's own limit, can lower B's figures.
        ingestLoop(plan, agent, 'b', runWindow, s, 50, 100),
        queryLoop(plan, agent, 'b', runWindow, s, B_QUERY, 20),
      ]
    : plan.aPaced
      ? [
          ...(plan.aWork === 'queries' ? [] : [ingestLoop(plan, agent, 'a', runWindow, s, plan.aSpans, plan.aPaced.ingestPauseMs)]),
          ...(plan.aWork === 'ingest' ? [] : [queryLoop(plan, agent, 'a', runWindow, s, A_QUERY, plan.aPaced.queryPauseMs)]),
        ]
      : [
        ...Array.from({ length: plan.aWork === 'queries' ? 0 : plan.flooders }, () =>
          plan.protocol === 'grpc' ? grpcIngestLoop(plan, 'a', runWindow, s, plan.aSpans) : ingestLoop(plan, agent, 'a', runWindow, s, plan.aSpans, 0),
        ),
        ...Array.from({ length: plan.aWork === 'ingest' ? 0 : Math.max(1, plan.flooders / 2) }, () => queryLoop(plan, agent, 'a', runWindow, s, A_QUERY, 0)),
      ],
);
s.busy = performance.eventLoopUtilization(elu).utilization;
agent.destroy();
parentPort!.postMessage(s);
