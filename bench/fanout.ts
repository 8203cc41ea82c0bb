// npm run bench:fanout — the cost of fanning out to Jaeger, Prometheus and Elasticsearch, against
// DuckDB only, in the same run.
//
// The gateway runs as a child process (`bin/teleql.js serve` with a generated config). This process
// sends a fixed rate of OTLP/HTTP protobuf requests for all three signals (--rate items per second per
// signal, --seconds long; 100 items per request) and waits until every item is written everywhere
// (the gateway's own /metrics: teleql_duckdb_rows_written_total and teleql_exporter_sent_items_total).
// Backends: a real Prometheus (/usr/bin/prometheus with the remote-write receiver, on a free port);
// Jaeger's OTLP receiver and Elasticsearch's _bulk answered by local servers in this process (their
// CPU is not the gateway's). Prints items/s, the gateway's CPU-seconds per million items in each
// configuration, and the ratio fan-out / DuckDB-only (target ≤ 1.5×). Options: --seconds N, --rate N,
// --profile DIR (a V8 CPU profile of each gateway).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { InstrumentationScope, LogRecord, MetricDescriptor, MetricPoint, Resource } from '../src/model/telemetry.ts';
import { encodeRequest } from '../src/otlp/encode.ts';
import { decodeRequest } from '../src/otlp/codec.ts';
import { prometheusAvailable, startPrometheus, type PrometheusServer } from '../test/helpers/prometheus-server.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { arg, cpuSeconds, fmt, machine } from './lib.ts';
import { syntheticTraces } from './synthetic.ts';

const seconds = arg('seconds', 20);
const rate = arg('rate', 5_000); // items per second per signal
// `--profile DIR`: each gateway (DuckDB only, then fan-out) writes a V8 CPU profile there when it exits.
const profileDir = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1]! : '';
const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
const PER_REQUEST = 100;

const resource: Resource = { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }], droppedAttributesCount: 0, schemaUrl: '' };
const scope: InstrumentationScope = { name: 'bench', version: '1.0.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
const gauge: MetricDescriptor = { name: 'bench.queue.depth', description: 'bench gauge', unit: '{item}', type: 'gauge', aggregationTemporality: 0, isMonotonic: false, metadata: [] };

function logs(n: number, nowNs: bigint, seq: number): LogRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    tenant: 'default',
    resource,
    scope,
    timeUnixNano: nowNs + BigInt(i),
    observedTimeUnixNano: nowNs + BigInt(i),
    severityNumber: i % 10 === 0 ? 17 : 9,
    severityText: i % 10 === 0 ? 'ERROR' : 'INFO',
    body: { stringValue: `request ${seq}/${i} served in ${i % 300} ms` },
    attributes: [
      { key: 'http.route', value: { stringValue: `/api/items/${i % 20}` } },
      { key: 'http.response.status_code', value: { intValue: String(i % 10 === 0 ? 500 : 200) } },
    ],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
  }));
}

/** One point for each of PER_REQUEST series at one timestamp: Prometheus wants time to move forward per series. */
function points(timeNs: bigint, seq: number): MetricPoint[] {
  return Array.from({ length: PER_REQUEST }, (_, i) => ({
    tenant: 'default',
    resource,
    scope,
    metric: gauge,
    point: { type: 'number', attributes: [{ key: 'series', value: { stringValue: String(i) } }], startTimeUnixNano: 0n, timeUnixNano: timeNs, flags: 0, asDouble: (seq * 7 + i) % 1000, exemplars: [] },
  }));
}

interface Backends {
  jaegerUrl: string;
  esUrl: string;
  prom?: PrometheusServer;
  jaegerSpans(): number;
  esDocs(): number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function startBackends(): Promise<Backends> {
  let spans = 0;
  let docs = 0;
  // Jaeger v2's OTLP/HTTP receiver answers an empty ExportTraceServiceResponse.
  const jaeger = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      spans += decodeRequest('traces', Buffer.concat(chunks), 'protobuf', 'default').items.length;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    });
  });
  // Elasticsearch 8: the product header the client checks, and a bulk answer without errors.
  const es = createHttpServer((req, res) => {
    let lines = 0;
    req.on('data', (c: Buffer) => {
      for (const b of c) if (b === 10) lines++;
    });
    req.on('end', () => {
      if (req.url?.startsWith('/_bulk')) docs += lines / 2;
      const body = req.url?.startsWith('/_bulk') ? '{"errors":false}' : '{"acknowledged":true}';
      res.writeHead(200, { 'content-type': 'application/vnd.elasticsearch+json;compatible-with=8', 'x-elastic-product': 'Elasticsearch', 'content-length': body.length }).end(body);
    });
  });
  const [jaegerUrl, esUrl] = await Promise.all([listen(jaeger), listen(es)]);
  const prom = prometheusAvailable() ? await startPrometheus() : undefined;
  return {
    jaegerUrl,
    esUrl,
    prom,
    jaegerSpans: () => spans,
    esDocs: () => docs,
    async close() {
      jaeger.closeAllConnections();
      es.closeAllConnections();
      await Promise.all([new Promise((r) => jaeger.close(r)), new Promise((r) => es.close(r)), prom?.destroy()]);
    },
  };
}

interface Gateway {
  child: ChildProcess;
  graphql: string;
  otlpHttp: string;
  dir: string;
}

async function startGateway(fanout: boolean, b: Backends): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), `teleql-fanout-${fanout ? 'all' : 'duck'}-`));
  const [gqlPort, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const queue = { spill: { directory: join(dir, 'spill') }, batch: { maxItems: 8192, flushIntervalMs: 200 } };
  const cfg: Record<string, unknown> = {
    log: { level: 'warn' },
    graphql: { port: gqlPort },
    receivers: { otlp: { grpc: { port: grpcPort }, http: { port: httpPort } } },
    storage: { duckdb: { path: join(dir, 'teleql.duckdb') }, elasticsearch: { node: b.esUrl } },
    exporters: {
      duckdb: {},
      ...(fanout && {
        jaeger: { endpoint: b.jaegerUrl, ...queue },
        elasticsearch: queue,
        ...(b.prom && { prometheus: { endpoint: b.prom.writeUrl, ...queue } }),
      }),
    },
    pipelines: {
      traces: { receivers: ['otlp'], processors: ['batch'], exporters: fanout ? ['duckdb', 'jaeger'] : ['duckdb'] },
      logs: { receivers: ['otlp'], processors: ['batch'], exporters: fanout ? ['duckdb', 'elasticsearch'] : ['duckdb'] },
      metrics: { receivers: ['otlp'], processors: ['batch'], exporters: fanout && b.prom ? ['duckdb', 'prometheus'] : ['duckdb'] },
    },
  };
  const file = join(dir, 'teleql.yaml');
  writeFileSync(file, stringify(cfg));
  const child = spawn('taskset', ['-c', '0', process.execPath, ...profile, 'bin/teleql.js', 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TELEQL_LOG_LEVEL: 'warn' } });
  const graphql = `http://127.0.0.1:${gqlPort}`;
  // Generous: on a loaded machine the first start (module loading) can take a while.
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      if ((await fetch(`${graphql}/readyz`)).ok) break;
    } catch {
      // not yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error('gateway did not become ready');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, graphql, otlpHttp: `http://127.0.0.1:${httpPort}`, dir };
}

async function stopGateway(g: Gateway): Promise<void> {
  await new Promise<void>((resolve) => {
    g.child.once('exit', () => resolve());
    g.child.kill('SIGTERM');
  });
  rmSync(g.dir, { recursive: true, force: true });
}

/** Sums of the gateway's own counters: rows in DuckDB, items each exporter sent or failed. */
async function counters(g: Gateway): Promise<{ duck: number; sent: Record<string, number>; failed: number }> {
  const text = await (await fetch(`${g.graphql}/metrics`)).text();
  let duck = 0;
  let failed = 0;
  const sent: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('teleql_duckdb_rows_written_total{')) duck += v;
    const m = /^teleql_exporter_sent_items_total\{exporter="([^"]+)"/.exec(line);
    if (m) sent[m[1]!] = v;
    if (line.startsWith('teleql_exporter_failed_items_total{')) failed += v;
  }
  return { duck, sent, failed };
}

async function post(url: string, body: Uint8Array): Promise<void> {
  // A keep-alive socket the server closed as idle, or a reset under load: send again (the counters
  // below wait for at least every item, so a duplicate cannot hang the run).
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(body) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      return;
    } catch (err) {
      // Only network faults (a stale keep-alive socket, a reset under load); an HTTP error is final.
      if (attempt >= 5 || /HTTP \d+/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

interface Result {
  items: number;
  wallS: number;
  cpuS: number;
}

async function run(fanout: boolean, b: Backends): Promise<Result> {
  const g = await startGateway(fanout, b);
  try {
    const pid = g.child.pid!;
    const requestsPerSecond = rate / PER_REQUEST;
    const total = Math.round(requestsPerSecond * seconds);
    const t0 = performance.now();
    const cpu0 = cpuSeconds(pid);
    const base = BigInt(Date.now()) * 1_000_000n;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      // Fixed rate: request i of each signal leaves at i / requestsPerSecond seconds.
      const due = t0 + (i * 1000) / requestsPerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      const traces = [...syntheticTraces(PER_REQUEST / 10, Date.now() - 1000, Date.now())].flat();
      pending.push(post(`${g.otlpHttp}/v1/traces`, encodeRequest('traces', traces)));
      pending.push(post(`${g.otlpHttp}/v1/logs`, encodeRequest('logs', logs(PER_REQUEST, nowNs, i))));
      pending.push(post(`${g.otlpHttp}/v1/metrics`, encodeRequest('metrics', points(base + BigInt(i) * 1_000_000n, i))));
      if (pending.length >= 60) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const items = total * PER_REQUEST * 3;
    const exporters = fanout ? ['jaeger/traces', 'elasticsearch/logs', ...(b.prom ? ['prometheus/metrics'] : [])] : [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      const c = await counters(g);
      const delivered = exporters.every((id) => (c.sent[id] ?? 0) + c.failed >= total * PER_REQUEST);
      if (c.duck >= items && delivered) {
        if (c.failed > 0) console.log(`  (${c.failed} items refused by a backend)`);
        break;
      }
      if (Date.now() > deadline) throw new Error(`not everything was written: ${JSON.stringify(c)} of ${items}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { items, wallS: (performance.now() - t0) / 1000, cpuS: cpuSeconds(pid) - cpu0 };
  } finally {
    await stopGateway(g);
  }
}

async function main(): Promise<void> {
  console.log(`bench:fanout — ${machine()}`);
  console.log(`${fmt(rate, 0)} items/s per signal (traces, logs, metrics), ${seconds} s, ${PER_REQUEST} items per OTLP/HTTP request; gateway pinned to CPU 0`);
  const b = await startBackends();
  if (!b.prom) console.log('  /usr/bin/prometheus not found: fan-out runs with Jaeger and Elasticsearch only');
  try {
    const duck = await run(false, b);
    const all = await run(true, b);
    const perM = (r: Result) => (r.cpuS / r.items) * 1e6;
    const line = (name: string, r: Result) =>
      console.log(`${name.padEnd(34)} ${fmt(r.items / r.wallS, 0).padStart(9)} items/s   ${fmt(perM(r), 2).padStart(7)} CPU-s per million items   (${fmt(r.cpuS, 2)} CPU-s, ${fmt(r.wallS, 1)} s)`);
    line('DuckDB only', duck);
    line(`DuckDB + Jaeger + ES${b.prom ? ' + Prometheus' : ''}`, all);
    console.log(`backends saw: jaeger ${b.jaegerSpans()} spans, elasticsearch ${b.esDocs()} documents`);
    const ratio = perM(all) / perM(duck);
    console.log(`fan-out CPU per item / DuckDB-only: ${fmt(ratio, 2)}× (target ≤ 1.5×) ${ratio <= 1.5 ? 'OK' : 'ABOVE TARGET'}`);
  } finally {
    await b.close();
  }
}

await main();
