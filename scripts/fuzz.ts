// Fuzzes a running gateway over real sockets: mutated OTLP protobuf and JSON to HTTP and gRPC
// (and compressed bodies, gzip, deflate, zstd and snappy, mutated for the decoders),
// mutated GraphQL documents and variables (queries over HTTP, live tails over graphql-ws), filters
// with SQL metacharacters and regex bombs. Every answer must be a clean refusal (HTTP 4xx, a gRPC
// status other than INTERNAL/UNKNOWN, no graphql-ws close 4500/1011, no masked "Unexpected
// error.", no backend error from the embedded store), every request must finish, and the gateway
// must still be healthy and answer with the data it held before. `npm run fuzz` runs it for
// FUZZ_SECONDS (60) against a gateway it starts; test/integration/fuzz.test.ts runs a short round
// inside `npm test`.
import { pathToFileURL } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';
import snappy from 'snappyjs';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { grpcExport } from '../test/helpers/otlp-grpc.ts';
import { logsJson, randomTraceId, spansJson, toProtobuf } from '../test/helpers/otlp-bodies.ts';
import type { TestGateway } from '../test/helpers/gateway.ts';
import { seededRandom } from '../test/helpers/seeded-random.ts';
import { zstdCli } from '../test/helpers/zstd-cli.ts';

export interface FuzzReport {
  requests: number;
  byKind: Record<string, number>;
  failures: string[];
  heapGrowthMb: number;
}

/** The seeded PRNG with the helpers the fuzzer draws with, so a failing seed can be replayed. */
function rng(seed: number) {
  const next = seededRandom(seed);
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rng>;

const NASTY_STRINGS = [
  "' OR 1=1 --",
  "'); DROP TABLE spans; --",
  '%_\\',
  '\u0000',
  '"\\\'`;',
  '(a+)+$',
  '(a|aa)*b',
  '((((((((((x*)*)*)*)*)*)*)*)*)*)*y',
  'a'.repeat(5000),
  '\uD800',
  '🔥'.repeat(100),
  '__proto__',
  '${7*7}',
  '../../etc/passwd',
];

function mutateBytes(r: Rng, input: Buffer): Buffer {
  const b = Buffer.from(input);
  switch (r.int(5)) {
    case 0: // flip bits
      for (let i = 0; i < 1 + r.int(8); i++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    case 1: // truncate
      return b.subarray(0, r.int(b.length));
    case 2: // insert random bytes
      return Buffer.concat([b.subarray(0, r.int(b.length)), Buffer.from(Array.from({ length: 1 + r.int(16) }, () => r.int(256))), b.subarray(r.int(b.length))]);
    case 3: // huge varint / length prefix
      return Buffer.concat([Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), b]);
    default: // duplicate a slice
      return Buffer.concat([b, b.subarray(r.int(b.length))]);
  }
}

function mutateJson(r: Rng, value: unknown, depth = 0): unknown {
  if (r.next() < 0.15 || depth > 12) {
    return r.pick([null, -1, 1e308, 'x', [], {}, true, '18446744073709551616', r.pick(NASTY_STRINGS), { a: { b: { c: [] } } }, Array.from({ length: 50 }, () => [])]);
  }
  if (Array.isArray(value)) return value.map((v) => mutateJson(r, v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (r.next() > 0.05) out[k] = mutateJson(r, v, depth + 1);
    return out;
  }
  return value;
}

const QUERIES = [
  '{ services }',
  'query($id: ID!) { trace(traceId: $id) { spanCount spans { name attributes events { name } } } }',
  'query($f: TelemetryFilter) { spans(first: 20, filter: $f) { nodes { name service attributes } } }',
  'query($f: TelemetryFilter) { logs(first: 20, filter: $f) { nodes { body severityText } } }',
  'query($f: TelemetryFilter) { traces(limit: 5, filter: $f) { traceId } }',
  'query($k: String!) { attributeValues(key: $k, signal: SPAN) }',
  // Times, durations, JSON labels and free text in arguments of the other fields.
  'query($t: Timestamp, $k: String) { attributeKeys(signal: LOG, prefix: $k, from: $t) }',
  'query($k: String!, $t: Timestamp!, $d: Duration, $j: JSON) { metricSeries(name: $k, from: $t, to: "now", step: $d, labels: $j) { labels points { value } } }',
  'query($k: String!, $t: Timestamp) { metricPoints(name: $k, from: $t, limit: 5) { value } }',
  'query($t: Timestamp!, $d: Duration) { exceptionGroups(from: $t, to: "now", step: $d, limit: 3) { fingerprint count } }',
  'query($id: ID, $d: Duration) { correlate(traceId: $id, window: $d) { trace { traceId } logs { body } } }',
  'query($t: Timestamp!, $k: String!) { serviceGraph(from: $t, to: "now", services: [$k]) { nodes { id requests } } }',
  'query($k: String!, $t: Timestamp) { operations(service: $k, from: $t) { name } }',
  'query($k: String!) { search(text: $k, limit: 3) { hits { score } } }',
  'query($t: Timestamp) { alerts(from: $t, limit: 5) { state } alertHistory(from: $t, limit: 5) { at to } }',
  'mutation($rule: AlertRuleInput!) { createAlertRule(input: $rule) { id for lastNotificationError } }',
  'mutation($k: String!, $t: Timestamp, $d: Duration) { silence(input: { matchers: [{ name: "alertname", type: REGEX, value: $k }], startsAt: $t, duration: $d }) { id } }',
];

/** Live tails over graphql-ws, with the same variables as the queries. */
const SUBSCRIPTIONS = [
  'subscription($f: TelemetryFilter, $t: Timestamp) { tailSpans(filter: $f, since: $t) { dropped span { name service attributes } } }',
  'subscription($f: TelemetryFilter, $t: Timestamp) { tailLogs(filter: $f, since: $t) { dropped log { body attributes } } }',
  'subscription($f: TelemetryFilter) { tailTraces(filter: $f) { reason trace { traceId } } }',
  'subscription($k: String!, $j: JSON, $t: Timestamp) { tailMetrics(name: $k, labels: $j, since: $t) { dropped point { value } } }',
  'subscription($k: String!) { alertEvents(filter: { matchers: [{ name: "alertname", type: REGEX, value: $k }] }) { to rule { id } } }',
];

function mutateText(r: Rng, text: string): string {
  switch (r.int(5)) {
    case 0:
      return text.slice(0, r.int(text.length));
    case 1: {
      const i = r.int(text.length);
      return text.slice(0, i) + r.pick(['{', '}', '(', ')', '$', '"', '...', '@include(if: $x)', '#', '\\u0000', 'fragment f on Query { ...f }', r.pick(NASTY_STRINGS)]) + text.slice(i);
    }
    case 2:
      return `{ ${'trace(traceId: "x") { spans { children { '.repeat(1 + r.int(30))} name ${'} } }'.repeat(1 + r.int(30))} }`;
    case 3:
      return `{ ${Array.from({ length: 1 + r.int(60) }, (_, i) => `a${i}: services`).join(' ')} }`;
    default:
      return text.replace(/[a-z]/, () => String.fromCharCode(32 + r.int(95)));
  }
}

function randomFilter(r: Rng): unknown {
  const s = () => r.pick(NASTY_STRINGS);
  return r.pick([
    { service: [s()] },
    { name: [s(), s()] },
    { attributes: [{ key: s(), eq: s() }] },
    { attributes: [{ key: 'http.url', regex: r.pick(['(a+)+$', '(a|aa)*b', '(x+x+)+y', '.*.*.*.*.*=.*', '[', '(?P<n>a)', '\\', '(?i)ß+']) }] },
    { attributes: [{ key: s(), in: [s(), s()] }], not: { service: [s()] } },
    { bodyContains: s() },
    { or: [{ service: [s()] }, { and: [{ name: [s()] }, { minDuration: r.pick(['1ms', '-1s', 'x', '99999999999h']) }] }] },
    { from: r.pick(['2020-01-01T00:00:00Z', 'yesterday', '-1', '1e20']), to: s() },
    mutateJson(r, { service: ['x'], attributes: [{ key: 'k', eq: 'v' }] }),
  ]);
}

// The embedded store is always up: a backend error is input that reached DuckDB unchecked.
const internalError = (text: string) => text.includes('Unexpected error') || text.includes('INTERNAL_SERVER_ERROR') || text.includes('GW_BACKEND_ERROR');

/**
 * One graphql-ws connection: connection_init, then `message` once acknowledged; what the server
 * sends within 30 ms after it (or until it completes or closes) is collected, then the client closes.
 */
function wsExchange(url: string, message: string): Promise<{ closeCode: number; received: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    const received: string[] = [];
    const timeout = setTimeout(() => {
      ws.terminate();
      reject(new Error(`graphql-ws: no close within 10 s (received ${received.join(' ').slice(0, 200)})`));
    }, 10_000);
    let linger: NodeJS.Timeout | undefined;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"connection_ack"')) {
        ws.send(message);
        linger = setTimeout(() => ws.close(1000), 30);
        return;
      }
      received.push(text);
      if (/"type":"(complete|error)"/.test(text)) ws.close(1000);
    });
    ws.on('error', () => undefined); // the close that follows says what happened
    ws.on('close', (closeCode) => {
      clearTimeout(timeout);
      clearTimeout(linger);
      resolve({ closeCode, received });
    });
  });
}

export async function runFuzz(gw: TestGateway, opts: { iterations?: number; seconds?: number; seed?: number; log?: (line: string) => void }): Promise<FuzzReport> {
  const r = rng(opts.seed ?? 1);
  const deadline = Date.now() + (opts.seconds ?? 3600) * 1000;
  const iterations = opts.iterations ?? Number.MAX_SAFE_INTEGER;
  const report: FuzzReport = { requests: 0, byKind: {}, failures: [], heapGrowthMb: 0 };
  const fail = (what: string) => {
    if (report.failures.length < 50) report.failures.push(what);
  };
  const seedTrace = randomTraceId();
  const seedSpans = spansJson(Array.from({ length: 5 }, (_, i) => ({ traceId: seedTrace, name: `seed-${i}`, attributes: { 'http.url': `https://x.test/${i}`, user: 'u' } })));
  const seedLogs = logsJson([{ body: 'seed log', attributes: { k: 'v' } }]);
  const protoSpans = toProtobuf('traces', seedSpans);
  const post = (path: string, body: Uint8Array | string, type: string, encoding?: string) =>
    fetch(`${gw.otlpHttp}${path}`, {
      method: 'POST',
      headers: { 'content-type': type, ...(encoding && { 'content-encoding': encoding }) },
      body: typeof body === 'string' ? body : new Uint8Array(body),
      signal: AbortSignal.timeout(30_000),
    });
  // The same request in every encoding the receiver takes, for the decoders to be fed mutations of.
  const compressedSpans: [string, Buffer][] = [
    ['gzip', gzipSync(protoSpans)],
    ['deflate', deflateSync(protoSpans)],
    ['zstd', zstdCli(protoSpans)],
    ['snappy', Buffer.from(snappy.compress(protoSpans))],
  ];
  const seeded = await post('/v1/traces', JSON.stringify(seedSpans), 'application/json');
  if (seeded.status !== 200) throw new Error(`seeding failed: ${seeded.status}`);
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;

  const kinds = {
    async 'otlp-http-protobuf'() {
      const res = await post(r.pick(['/v1/traces', '/v1/logs', '/v1/metrics']), mutateBytes(r, protoSpans), 'application/x-protobuf');
      await res.arrayBuffer();
      if (res.status >= 500) fail(`otlp-http-protobuf: HTTP ${res.status}`);
    },
    async 'otlp-http-json'() {
      const body = r.next() < 0.5 ? JSON.stringify(mutateJson(r, r.pick([seedSpans, seedLogs]))) : mutateText(r, JSON.stringify(seedSpans));
      const res = await post(r.pick(['/v1/traces', '/v1/logs']), body, 'application/json');
      await res.arrayBuffer();
      if (res.status >= 500) fail(`otlp-http-json: HTTP ${res.status} for ${body.slice(0, 120)}`);
    },
    async 'otlp-http-compressed'() {
      const [encoding, compressed] = r.pick(compressedSpans);
      const intact = r.next() < 0.2;
      const res = await post('/v1/traces', intact ? compressed : mutateBytes(r, compressed), 'application/x-protobuf', encoding);
      await res.arrayBuffer();
      if (res.status >= 500 || (intact && res.status !== 200)) fail(`otlp-http-compressed: HTTP ${res.status} for ${intact ? 'an intact' : 'a mutated'} ${encoding} body`);
    },
    async 'otlp-grpc'() {
      const answer = await grpcExport(gw.otlpGrpc, r.pick(['traces', 'logs', 'metrics'] as const), mutateBytes(r, protoSpans));
      if (answer.code === grpc.status.INTERNAL || answer.code === grpc.status.UNKNOWN) fail(`otlp-grpc: ${grpc.status[answer.code]} ${answer.details}`);
    },
    async graphql() {
      const query = mutatedDocument(QUERIES);
      const variables = fuzzVariables();
      const res = await fetch(gw.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: r.next() < 0.1 ? mutateText(r, JSON.stringify({ query, variables })) : JSON.stringify({ query, variables: r.next() < 0.2 ? mutateJson(r, variables) : variables }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status >= 500 || internalError(text)) fail(`graphql: HTTP ${res.status} ${text.slice(0, 200)} for ${query.slice(0, 200)} ${JSON.stringify(variables).slice(0, 200)}`);
    },
    async 'graphql-ws'() {
      const query = mutatedDocument(SUBSCRIPTIONS);
      const variables = fuzzVariables();
      const subscribe = JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: r.next() < 0.2 ? mutateJson(r, variables) : variables } });
      const message = r.next() < 0.1 ? mutateText(r, subscribe) : subscribe;
      const outcome = await wsExchange(gw.wsUrl, message);
      // 1011 (ws) and 4500 (graphql-ws) are the server's internal errors; 4400 and the like are refusals.
      if (outcome.closeCode === 1011 || outcome.closeCode === 4500 || outcome.received.some(internalError)) {
        fail(`graphql-ws: close ${outcome.closeCode} ${outcome.received.join(' ').slice(0, 200)} for ${message.slice(0, 300)}`);
      }
    },
  };
  function mutatedDocument(documents: readonly string[]): string {
    const base = r.pick(documents);
    return r.next() < 0.6 ? mutateText(r, base) : base;
  }
  function fuzzVariables() {
    return {
      id: r.pick([seedTrace, randomTraceId(), r.pick(NASTY_STRINGS), 42]),
      f: randomFilter(r),
      k: r.pick(NASTY_STRINGS),
      t: r.pick(['now-1h', '2020-01-01T00:00:00Z', 0, -1, 1e21, '1e20', 'now-99999999999h', r.pick(NASTY_STRINGS)]),
      d: r.pick(['1m', '0', 0, '-1s', 1e308, '99999999999h', '1ns', r.pick(NASTY_STRINGS)]),
      j: r.pick([{ job: 'x' }, JSON.parse('{"__proto__":{"polluted":1}}') as unknown, [], 'x', { a: { b: [] } }, null]),
      rule: mutateJson(r, {
        name: r.pick(NASTY_STRINGS),
        kind: r.pick(['PROMQL', 'SPAN_ERROR_RATE', 'SPAN_LATENCY_QUANTILE', 'LOG_COUNT', 'NO_DATA']),
        expr: r.pick(['rate(x[5m]) > 1', 'sum by (a) (y)', r.pick(NASTY_STRINGS)]),
        threshold: r.pick([0.05, -1, 1e308]),
        for: r.pick(['5m', '0s', 'x']),
        window: '5m',
        labels: { severity: r.pick(NASTY_STRINGS) },
        filter: randomFilter(r),
      }),
    };
  }
  const names = Object.keys(kinds) as (keyof typeof kinds)[];
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    const kind = names[i % names.length]!;
    try {
      await kinds[kind]();
    } catch (err) {
      fail(`${kind}: request did not complete: ${err instanceof Error ? err.message : String(err)}`);
    }
    report.requests++;
    report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
    if (i % 500 === 499) opts.log?.(`${i + 1} requests, ${report.failures.length} failures`);
  }

  const health = await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/healthz'));
  if (health.status !== 200) fail(`health check after fuzzing: HTTP ${health.status}`);
  const trace = await fetch(gw.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query($id: ID!) { trace(traceId: $id) { spans { name } } }', variables: { id: seedTrace } }),
  }).then((x) => x.json() as Promise<{ data?: { trace?: { spans: { name: string }[] } } }>);
  // Mutated copies of the seed may add spans to its trace (they are valid input); the seed's stay.
  const seedNames = new Set(trace.data?.trace?.spans.map((sp) => sp.name));
  if (![0, 1, 2, 3, 4].every((i) => seedNames.has(`seed-${i}`))) fail(`the trace stored before fuzzing is not intact: ${JSON.stringify(trace)}`);
  global.gc?.();
  report.heapGrowthMb = Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e5) / 10;
  return report;
}

/**
 * The gateway fuzzed: the defaults plus the redaction and attribute-limits processors, so mutated
 * attribute values, bodies and names go through their scanners too (they are off by default).
 */
export const FUZZED_GATEWAY_CONFIG = { processors: { redaction: {}, limits: {} } };

async function main(): Promise<void> {
  const { startGateway } = await import('../test/helpers/gateway.ts');
  const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  const gw = await startGateway(FUZZED_GATEWAY_CONFIG);
  try {
    console.log(`fuzzing for ${seconds} s, seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const report = await runFuzz(gw, { seconds, seed, log: (l) => console.log(l) });
    console.log(JSON.stringify({ ...report, failures: report.failures.length }, null, 2));
    for (const f of report.failures) console.log(`FAIL ${f}`);
    process.exitCode = report.failures.length ? 1 : 0;
  } finally {
    await gw.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
