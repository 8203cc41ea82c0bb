// Fuzzes a gateway running as its own process (scripts/fuzz/gateway-process.ts) over real sockets:
// mutated OTLP protobuf and JSON for traces, logs and metrics to HTTP and gRPC (and compressed
// bodies: gzip, deflate, zstd, snappy), GraphQL documents generated from the schema (queries and
// mutations over HTTP, live tails over graphql-ws) plus documents built to be costly, and regex bombs
// that meet matching data (a tail is opened with the pattern, then a value that nearly matches is
// ingested), and SQL metacharacters in filters that must find exactly the one span holding them.
// Inputs are in scripts/fuzz/inputs.ts; every one (IDs and times too) comes from the seed.
//
// What fails a run: an answer that is not 200 or a clean refusal (4xx, or 503 with Retry-After, with
// a message; a gRPC status other than OK/INVALID_ARGUMENT/RESOURCE_EXHAUSTED or one without details;
// graphql-ws close 4500/1011; an error without a code, a masked "Unexpected error." or a backend
// error from the embedded store); a request past its deadline (the gateway's GraphQL deadline plus
// a margin); /healthz, probed every second from this process, not answering within its deadline
// (the run stops: the gateway is blocked); the gateway process exiting; a record acknowledged
// before a bad request not readable afterwards; a metacharacter filter finding other rows; the
// gateway's RSS (sampled every second and per case) growing by more than a bound after a warm-up. Every failure names the seed and case and writes the full input to a file.
//
// `npm run fuzz`: FUZZ_SECONDS (60), FUZZ_SEED (from the clock; printed), FUZZ_CASE (replay one case
// of the seed against a fresh gateway), FUZZ_OUT (where inputs are written; a temporary directory),
// FUZZ_PORT_BASE (three ports for the gateway; free ones when unset), FUZZ_MAX_RSS_GROWTH_MB (256).
// test/integration/fuzz.test.ts runs a short round with a fixed seed inside `npm test`.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';
import snappy from 'snappyjs';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { exportServiceDefinition } from '../ingest/receivers/otlp/grpc.ts';
import { toProtobuf } from '../test/helpers/otlp-bodies.ts';
import { zstdCli } from '../test/helpers/zstd-cli.ts';
import type { Signal } from '../src/model/telemetry.ts';
import { spawnGateway, type GatewayProcess } from './fuzz/gateway-process.ts';
import {
  QUERY_FROM,
  caseRng,
  generateOperation,
  hostileDocument,
  loadSchema,
  logRequest,
  makeSeeds,
  manyInvalidItems,
  metricRequest,
  mutateBytes,
  mutateJson,
  mutateText,
  regexBomb,
  rng,
  spanRequest,
  ORACLE_SERVICE,
  SQL_METACHARACTERS,
  type Context,
  type Rng,
  type Seeds,
} from './fuzz/inputs.ts';

/** The gateway fuzzed: retention off (records carry fixed times), no semantic search (no model download), the redaction and limits processors on so their scanners see mutated values, a 10 s GraphQL deadline. */
export const FUZZED_GATEWAY_CONFIG = {
  log: { level: 'warn' },
  search: { enabled: false },
  storage: { duckdb: { path: ':memory:' }, retention: { period: '0' } },
  processors: { redaction: {}, limits: {}, batch: { timeoutMs: 50 } },
  limits: { graphql: { timeoutMs: 10_000 } },
};
/** A request may take the gateway's GraphQL deadline plus this before it counts as hung. */
const REQUEST_DEADLINE_MS = 10_000 + 5_000;
/** /healthz must answer within this, probed every second while fuzzing and after each regex bomb. */
export const HEALTH_DEADLINE_MS = 5_000;

export interface FuzzOptions {
  seed: number;
  iterations?: number;
  seconds?: number;
  /** Only this case of the seed (a replay). */
  onlyCase?: number;
  /** RSS growth after the warm-up (the first 30 % of the cases, or of the seconds when no iteration count is given) that fails it, MB. */
  maxRssGrowthMb?: number;
  /**
   * The largest flood of invalid items in one request (1,000,000 by default). A million decoded
   * items take ~250 MB while the request is converted, which stays the process's high-water mark
   * (docs/known-gaps.md): a run that is to check memory for leaks only sets 100,000.
   */
  maxFloodItems?: number;
  outDir?: string;
  log?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  byKind: Record<string, number>;
  /** How far inputs got: per kind, the HTTP status, gRPC status or first GraphQL error code (`data` when there was none). */
  outcomes: Record<string, number>;
  /** Refusals that were 503 + Retry-After (the gateway shedding load, not a defect). */
  retryable: number;
  failures: string[];
  /** The gateway stopped answering /healthz or requests: the run ended early. */
  blocked: boolean;
  rssMb: { start?: number; afterWarmup?: number; max?: number; end?: number; growthAfterWarmup?: number; samples: number[]; largestSteps: { case: number; kind: string; mb: number }[] };
  /** Where failing inputs were written (unset when nothing failed). */
  outDir?: string;
}

interface CaseInput {
  kind: string;
  index: number;
  [field: string]: unknown;
}

/** Binary inputs go to files as base64 (JSON.stringify has already turned a Buffer into { type, data } here). */
const toFileValue = (v: unknown): unknown => {
  const b = v as { type?: unknown; data?: unknown } | null;
  if (b && typeof b === 'object' && b.type === 'Buffer' && Array.isArray(b.data)) return { base64: Buffer.from(b.data as number[]).toString('base64') };
  return v instanceof Uint8Array ? { base64: Buffer.from(v).toString('base64') } : v;
};

export async function runFuzz(gw: GatewayProcess, opts: FuzzOptions): Promise<FuzzReport> {
  const seed = opts.seed;
  const report: FuzzReport = { seed, requests: 0, byKind: {}, outcomes: {}, retryable: 0, failures: [], blocked: false, rssMb: { samples: [], largestSteps: [] } };
  const run = new AbortController();
  const deadline = Date.now() + (opts.seconds ?? 3600) * 1000;
  const iterations = opts.iterations ?? Number.MAX_SAFE_INTEGER;
  const recent: CaseInput[] = [];
  let current: CaseInput | undefined;
  /** Writes an input to the run's directory (made on the first failure). */
  const writeInput = (name: string, input: unknown) => {
    report.outDir ??= opts.outDir ?? mkdtempSync(join(tmpdir(), `teleql-fuzz-${seed}-`));
    mkdirSync(report.outDir, { recursive: true });
    const file = join(report.outDir, name);
    writeFileSync(file, JSON.stringify(input, (_k, v: unknown) => toFileValue(v), 2));
    return file;
  };
  const fail = (what: string) => {
    const where = current ? ` [seed ${seed} case ${current.index}: ${writeInput(`case-${current.index}.json`, { seed, ...current })}]` : ` [seed ${seed}]`;
    if (report.failures.length < 100) report.failures.push(`${what}${where}`);
  };
  const blocked = (what: string) => {
    if (report.blocked) return;
    report.blocked = true;
    const file = writeInput('last-inputs.json', { seed, inFlight: current?.index, inputs: recent });
    report.failures.push(`${what} [seed ${seed}; case in flight ${current?.index ?? '-'}; the last ${recent.length} inputs: ${file}]`);
    run.abort();
  };
  const tally = (key: string) => (report.outcomes[key] = (report.outcomes[key] ?? 0) + 1);
  const signal = () => AbortSignal.any([run.signal, AbortSignal.timeout(REQUEST_DEADLINE_MS)]);
  const health = () => fetch(gw.healthzUrl, { signal: AbortSignal.timeout(HEALTH_DEADLINE_MS) }).then((res) => res.status === 200, () => false);

  // The watchdog: liveness and RSS from outside the gateway's event loop.
  let watching = true;
  const watchdog = (async () => {
    while (watching && !report.blocked) {
      const rss = gw.rssMb();
      if (rss !== undefined) report.rssMb.samples.push(rss);
      if (!gw.alive()) blocked(`the gateway process exited: ${gw.output().slice(-1500)}`);
      else if (!(await health())) blocked(`the gateway did not answer /healthz within ${HEALTH_DEADLINE_MS} ms (blocked event loop)`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();

  const schema = loadSchema();
  const seeds = makeSeeds(rng(seed));
  const ctx: Context = { traceIds: seeds.traceIds, names: ['seed-0', 'seed-1', 'fuzz_seed_metric', 'fuzz_seed_metric_seconds', 'good-0'] };
  const good: { signal: Signal; key: string }[] = [];

  const post = (path: string, body: Uint8Array | string, type: string, encoding?: string) =>
    fetch(`${gw.otlpHttp}${path}`, { method: 'POST', headers: { 'content-type': type, ...(encoding && { 'content-encoding': encoding }) }, body: typeof body === 'string' ? body : new Uint8Array(body), signal: signal() });
  /** 200, or a refusal with a message; returns the status. */
  const checkOtlpHttp = async (res: Response, what: string): Promise<number> => {
    const text = await res.text();
    tally(`${what.split(' ')[0]} ${res.status}`);
    if (res.status === 200) return 200;
    if (res.status === 503 && res.headers.get('retry-after')) report.retryable++;
    else if (res.status < 400 || res.status >= 500) fail(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
    else if (!text.trim() || (res.headers.get('content-type')?.includes('json') && !/"message"\s*:\s*"[^"]/.test(text))) fail(`${what}: HTTP ${res.status} without a message: ${text.slice(0, 300)}`);
    return res.status;
  };
  for (const [s, body] of [['traces', seeds.traces], ['traces', seeds.oracle], ['logs', seeds.logs], ['metrics', seeds.metrics]] as const) {
    const res = await post(`/v1/${s}`, JSON.stringify(body), 'application/json');
    if (res.status !== 200 || /rejected/.test(await res.text())) throw new Error(`seeding ${s} failed: HTTP ${res.status}`);
  }
  const signals = ['traces', 'logs', 'metrics'] as const;
  const seedJson = (s: Signal) => (s === 'traces' ? seeds.traces : s === 'logs' ? seeds.logs : seeds.metrics);
  const compress = (encoding: string, body: Buffer) => (encoding === 'gzip' ? gzipSync(body) : encoding === 'deflate' ? deflateSync(body) : encoding === 'zstd' ? zstdCli(body) : Buffer.from(snappy.compress(body)));

  const kinds: Record<string, (r: Rng, input: CaseInput) => Promise<void>> = {
    async 'otlp-http-protobuf'(r, input) {
      const s = r.pick(signals);
      const body = r.next() < 0.08 ? manyInvalidItems(s, Math.min(r.pick([1000, 100_000, 1_000_000]), opts.maxFloodItems ?? 1_000_000)) : mutateBytes(r, toProtobuf(s, seedJson(s)));
      Object.assign(input, { signal: s, body });
      await checkOtlpHttp(await post(`/v1/${s}`, body, 'application/x-protobuf'), `otlp-http-protobuf ${s}`);
    },
    async 'otlp-http-json'(r, input) {
      const s = r.pick(signals);
      const body = r.next() < 0.6 ? JSON.stringify(mutateJson(r, seedJson(s))) : mutateText(r, JSON.stringify(seedJson(s)));
      Object.assign(input, { signal: s, body });
      await checkOtlpHttp(await post(`/v1/${s}`, body, 'application/json'), `otlp-http-json ${s}`);
    },
    async 'otlp-http-compressed'(r, input) {
      const s = r.pick(signals);
      const json = r.next() < 0.3;
      const plain = json ? Buffer.from(JSON.stringify(seedJson(s))) : toProtobuf(s, seedJson(s));
      const encoding = r.pick(['gzip', 'deflate', 'zstd', 'snappy']);
      const intact = r.next() < 0.2;
      const body = intact ? compress(encoding, plain) : r.next() < 0.5 ? mutateBytes(r, compress(encoding, plain)) : compress(encoding, mutateBytes(r, plain));
      Object.assign(input, { signal: s, encoding, json, intact, body });
      const status = await checkOtlpHttp(await post(`/v1/${s}`, body, json ? 'application/json' : 'application/x-protobuf', encoding), `otlp-http-compressed ${encoding} ${s}`);
      if (intact && status !== 200) fail(`otlp-http-compressed: an intact ${encoding} ${s} body got HTTP ${status}`);
    },
    async 'otlp-grpc'(r, input) {
      const s = r.pick(signals);
      const body = r.next() < 0.15 ? toProtobuf(s, seedJson(s)) : mutateBytes(r, toProtobuf(s, seedJson(s)));
      Object.assign(input, { signal: s, body });
      const answer = await grpcExport(gw.otlpGrpc, s, body, REQUEST_DEADLINE_MS);
      tally(`otlp-grpc ${grpc.status[answer.code]}`);
      if (answer.code === grpc.status.DEADLINE_EXCEEDED) blocked(`otlp-grpc ${s}: no answer within ${REQUEST_DEADLINE_MS} ms`);
      else if (![grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED].includes(answer.code)) fail(`otlp-grpc ${s}: ${grpc.status[answer.code]} ${answer.details}`);
      else if (answer.code !== grpc.status.OK && !answer.details) fail(`otlp-grpc ${s}: ${grpc.status[answer.code]} without details`);
    },
    async graphql(r, input) {
      const draw = r.next();
      const op = draw < 0.2 ? hostileDocument(r, ctx) : generateOperation(r, schema, draw < 0.3 ? 'mutation' : 'query', ctx);
      const body = r.next() < 0.1 ? mutateText(r, JSON.stringify(op)) : JSON.stringify({ query: r.next() < 0.1 ? mutateText(r, op.query) : op.query, variables: r.next() < 0.1 ? mutateJson(r, op.variables) : op.variables });
      Object.assign(input, { body });
      const res = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: signal() });
      const text = await res.text();
      tally(`graphql ${res.status} ${/"code":"(\w+)"/.exec(text)?.[1] ?? (text.includes('"data"') ? 'data' : '')}`);
      checkGraphqlAnswer(res.status, text, `graphql`, fail, () => report.retryable++);
    },
    async 'graphql-ws'(r, input) {
      const op = generateOperation(r, schema, 'subscription', ctx);
      const subscribe = JSON.stringify({ id: '1', type: 'subscribe', payload: r.next() < 0.1 ? mutateJson(r, op) : op });
      const draw = r.next();
      const message = draw < 0.1 ? mutateText(r, subscribe) : draw < 0.2 ? r.pick(PROTOCOL_VIOLATIONS) : subscribe;
      Object.assign(input, { message });
      const outcome = await wsExchange(gw.wsUrl, message, 30, run.signal);
      tally(`graphql-ws ${outcome.closeCode} ${/"code":"(\w+)"/.exec(outcome.received.join(''))?.[1] ?? (outcome.received.length ? 'next' : 'open')}`);
      checkWsOutcome(outcome, fail);
    },
    async 'regex-bomb'(r, input) {
      const { pattern, value } = regexBomb(r);
      const logs = r.next() < 0.4;
      const subscription = logs ? 'subscription($f: TelemetryFilter) { tailLogs(filter: $f) { log { body } } }' : 'subscription($f: TelemetryFilter) { tailSpans(filter: $f) { span { name } } }';
      const message = JSON.stringify({ id: '1', type: 'subscribe', payload: { query: subscription, variables: { f: { attributes: [{ key: 'bomb', regex: pattern }] } } } });
      const body = JSON.stringify(logs ? logRequest(r, 'bomb', { bomb: value }) : spanRequest(r, { traceId: r.hex(16), name: 'bomb', attributes: { bomb: value } }));
      Object.assign(input, { pattern, value, message, body });
      // The tail stays open while the matching value is ingested, so the matcher runs on it.
      const outcome = wsExchange(gw.wsUrl, message, 1500, run.signal, async () => {
        await checkOtlpHttp(await post(logs ? '/v1/logs' : '/v1/traces', body, 'application/json'), 'regex-bomb ingest');
        await new Promise((resolve) => setTimeout(resolve, 300)); // past the batch timeout: the tail tap has seen it
        if (!(await health())) blocked(`regex bomb: /healthz gave no answer within ${HEALTH_DEADLINE_MS} ms after a value matched against ${JSON.stringify(pattern)}`);
      });
      const answered = await outcome;
      tally(`regex-bomb ${/"code":"(\w+)"/.exec(answered.received.join(''))?.[1] ?? (answered.received.length ? 'matched' : 'open')}`);
      checkWsOutcome(answered, fail);
    },
    async 'sql-oracle'(r, input) {
      // Exactly the one span whose name (or attribute k) is the metacharacter string: no wildcard, no injection.
      const m = r.pick(SQL_METACHARACTERS);
      const byName = r.next() < 0.5;
      const variables = { f: { service: [ORACLE_SERVICE], ...(byName ? { name: [m] } : { attributes: [r.next() < 0.5 ? { key: 'k', eq: m } : { key: 'k', in: [m, `${m}x`] }] }), from: QUERY_FROM, to: '2026-01-02T00:00:00Z' } };
      Object.assign(input, { metacharacters: m, variables });
      const res = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query($f: TelemetryFilter) { spans(first: 50, filter: $f) { nodes { name } } }', variables }), signal: signal() });
      const text = await res.text();
      checkGraphqlAnswer(res.status, text, 'sql-oracle', fail, () => report.retryable++);
      const names = (JSON.parse(text) as { data?: { spans?: { nodes: { name: string }[] } } }).data?.spans?.nodes.map((n) => n.name);
      tally(`sql-oracle ${names?.length ?? 'null'}`);
      if (JSON.stringify(names) !== JSON.stringify([m])) fail(`sql-oracle: a filter on ${JSON.stringify(m)} found ${JSON.stringify(names)}`);
    },
    async 'good-then-bad'(r, input) {
      const s = r.pick(signals);
      const key = `good-${r.hex(6)}`;
      const goodBody = s === 'traces' ? spanRequest(r, { traceId: r.hex(16), name: key }) : s === 'logs' ? logRequest(r, key) : metricRequest(r, key.replace('-', '_'));
      const bad = mutateBytes(r, toProtobuf(s, goodBody));
      Object.assign(input, { signal: s, good: goodBody, bad });
      const res = await post(`/v1/${s}`, JSON.stringify(goodBody), 'application/json');
      const text = await res.text();
      if (res.status !== 200 || text.includes('rejected')) return fail(`good-then-bad: a valid ${s} request got HTTP ${res.status} ${text.slice(0, 300)}`);
      good.push({ signal: s, key: s === 'traces' ? ((goodBody.resourceSpans as { scopeSpans: { spans: { traceId: string }[] }[] }[])[0]!.scopeSpans[0]!.spans[0]!.traceId) : key });
      await checkOtlpHttp(await post(`/v1/${s}`, bad, 'application/x-protobuf'), `good-then-bad ${s}`);
    },
  };

  const names = Object.keys(kinds);
  const first = opts.onlyCase ?? 0;
  const last = opts.onlyCase ?? iterations - 1;
  const warmupEnd = { at: Date.now() + (opts.seconds ?? 0) * 300, case: Math.floor(Math.min(iterations, 1e9) * 0.3) };
  for (let i = first; i <= last && Date.now() < deadline && !report.blocked; i++) {
    const kind = names[i % names.length]!;
    current = { kind, index: i };
    recent.push(current);
    if (recent.length > 20) recent.shift();
    const rssBefore = gw.rssMb();
    try {
      await kinds[kind]!(caseRng(seed, i), current);
    } catch (err) {
      if (!report.blocked) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        if (timedOut) blocked(`${kind}: no answer within ${REQUEST_DEADLINE_MS} ms`);
        else fail(`${kind}: request did not complete: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const step = (gw.rssMb() ?? 0) - (rssBefore ?? 0);
    const steps = report.rssMb.largestSteps;
    if (rssBefore !== undefined && step > (steps[4]?.mb ?? 0)) {
      steps.push({ case: i, kind, mb: Math.round(step * 10) / 10 });
      steps.sort((a, b) => b.mb - a.mb).splice(5);
    }
    report.requests++;
    report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
    if (report.rssMb.afterWarmup === undefined && (opts.iterations === undefined ? Date.now() >= warmupEnd.at : i >= warmupEnd.case)) report.rssMb.afterWarmup = gw.rssMb();
    if (i % 500 === 499) opts.log?.(`${i + 1} cases, ${report.failures.length} failures, gateway RSS ${gw.rssMb()} MB`);
  }
  current = undefined;
  watching = false;
  await watchdog;

  if (!report.blocked) {
    if (!gw.alive() || !(await health())) report.failures.push(`the gateway is not healthy after fuzzing [seed ${seed}]`);
    else await checkKept(gw, seeds, good, fail);
  }
  const samples = report.rssMb.samples;
  Object.assign(report.rssMb, { start: samples[0], max: Math.max(...samples), end: samples.at(-1) });
  const afterWarmup = report.rssMb.afterWarmup;
  if (afterWarmup !== undefined && !report.blocked) {
    const growth = Math.round((Math.max(...samples.slice(Math.floor(samples.length * 0.3)), gw.rssMb() ?? 0) - afterWarmup) * 10) / 10;
    report.rssMb.growthAfterWarmup = growth;
    const bound = opts.maxRssGrowthMb ?? 256;
    if (growth > bound) report.failures.push(`gateway RSS grew by ${growth} MB after the warm-up (bound ${bound} MB; samples ${samples.join(' ')}) [seed ${seed}]`);
  }
  return report;
}

/** The seeds and every good record acknowledged during the run are still readable (after the batch queue drained). */
async function checkKept(gw: GatewayProcess, seeds: Seeds, good: { signal: Signal; key: string }[], fail: (what: string) => void): Promise<void> {
  const to = '2026-01-02T00:00:00Z';
  const query = async <T>(q: string, variables: Record<string, unknown>): Promise<T | undefined> => {
    const res = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q, variables }), signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
    return ((await res.json()) as { data?: T }).data;
  };
  const spanNames = async (traceId: string) => (await query<{ trace: { spans: { name: string }[] } | null }>('query($id: ID!) { trace(traceId: $id) { spans { name } } }', { id: traceId }))?.trace?.spans.map((s) => s.name) ?? [];
  const logFound = async (text: string) => ((await query<{ logs: { nodes: unknown[] } }>('query($f: TelemetryFilter) { logs(first: 1, filter: $f) { nodes { body } } }', { f: { bodyContains: text, from: QUERY_FROM, to } }))?.logs.nodes.length ?? 0) > 0;
  const metricFound = async (name: string) => ((await query<{ metricPoints: unknown[] | null }>('query($n: String!, $f: Timestamp, $t: Timestamp) { metricPoints(name: $n, from: $f, to: $t, limit: 1) { value } }', { n: name, f: QUERY_FROM, t: to }))?.metricPoints?.length ?? 0) > 0;
  const missing = async () => {
    const out: string[] = [];
    const seedSpans = [...(await spanNames(seeds.traceIds[0]!)), ...(await spanNames(seeds.traceIds[1]!))];
    for (const n of ['seed-0', 'seed-1', 'seed-2', 'seed-3']) if (!seedSpans.includes(n)) out.push(`seed span ${n}`);
    if (!(await logFound('seed log'))) out.push('seed log');
    if (!(await metricFound('fuzz_seed_metric'))) out.push('seed metric');
    for (const g of good) {
      const found = g.signal === 'traces' ? (await spanNames(g.key)).length > 0 : g.signal === 'logs' ? await logFound(g.key) : await metricFound(g.key.replace('-', '_'));
      if (!found) out.push(`good ${g.signal} ${g.key}`);
    }
    return out;
  };
  let lost = await missing();
  for (let i = 0; i < 10 && lost.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    lost = await missing();
  }
  if (lost.length) fail(`records acknowledged before bad requests are not readable: ${lost.slice(0, 20).join(', ')}${lost.length > 20 ? ` and ${lost.length - 20} more` : ''}`);
}

/** 200 or 4xx (or 503 + Retry-After, counted by `retryable`); every error with a message and a code, none internal. */
export function checkGraphqlAnswer(status: number, text: string, what: string, fail: (what: string) => void, retryable: () => void): void {
  if (status === 503) return retryable();
  if (status >= 500 || (status !== 200 && status < 400)) return fail(`${what}: HTTP ${status} ${text.slice(0, 300)}`);
  let body: { errors?: { message?: unknown; extensions?: { code?: unknown } }[]; data?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return fail(`${what}: HTTP ${status} answer is not JSON: ${text.slice(0, 300)}`);
  }
  if (status >= 400 && !body.errors?.length) return fail(`${what}: HTTP ${status} without errors: ${text.slice(0, 300)}`);
  for (const e of body.errors ?? []) {
    if (typeof e.message !== 'string' || !e.message) return fail(`${what}: an error without a message: ${text.slice(0, 300)}`);
    const code = e.extensions?.code;
    if (typeof code !== 'string') return fail(`${what}: an error without a code: ${text.slice(0, 300)}`);
    if (code === 'INTERNAL_SERVER_ERROR' || code === 'GW_BACKEND_ERROR' || e.message === 'Unexpected error.') return fail(`${what}: internal error ${code} ${e.message.slice(0, 300)}`);
  }
}

/** graphql-transport-ws messages a client must not send after connection_init: each must close with 4400-4499, not 4500. */
const PROTOCOL_VIOLATIONS = [
  '{"type":"connection_ack"}',
  '{"type":"next","id":"1","payload":{"data":{}}}',
  '{"type":"error","id":"1","payload":[]}',
  '{"type":"connection_init"}',
  '{"type":"subscribe","payload":{"query":"{ services }"}}',
  '{"type":"subscribe","id":{},"payload":{"query":"{ services }"}}',
  '{"type":"complete"}',
  '{"type":"ping","payload":"x"}',
  '[]',
  'null',
  'not json',
];

interface WsOutcome {
  closeCode: number;
  received: string[];
}

function checkWsOutcome(outcome: WsOutcome, fail: (what: string) => void): void {
  // 1011 (ws) and 4500 (graphql-ws) are the server's internal errors; 4400 and the like are refusals.
  if (outcome.closeCode === 1011 || outcome.closeCode === 4500) return fail(`graphql-ws: close ${outcome.closeCode} ${outcome.received.join(' ').slice(0, 300)}`);
  for (const text of outcome.received) {
    let m: { type?: string; payload?: unknown };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      return fail(`graphql-ws: a message that is not JSON: ${text.slice(0, 300)}`);
    }
    if (m.type === 'error') checkGraphqlAnswer(400, JSON.stringify({ errors: m.payload }), 'graphql-ws error', fail, () => undefined);
    else if (m.type === 'next') checkGraphqlAnswer(200, JSON.stringify(m.payload), 'graphql-ws next', fail, () => undefined);
  }
}

/**
 * One graphql-ws connection: connection_init, then `message` once acknowledged; `whileOpen` runs
 * then (or the client waits `lingerMs`), and what the server sent until then is collected.
 */
function wsExchange(url: string, message: string, lingerMs: number, run: AbortSignal, whileOpen?: () => Promise<void>): Promise<WsOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    const received: string[] = [];
    const give = (err: Error) => {
      ws.terminate();
      reject(err);
    };
    const timeout = setTimeout(() => give(Object.assign(new Error(`graphql-ws: no close within ${REQUEST_DEADLINE_MS} ms`), { name: 'TimeoutError' })), REQUEST_DEADLINE_MS);
    const onAbort = () => give(Object.assign(new Error('run aborted'), { name: 'AbortError' }));
    run.addEventListener('abort', onAbort, { once: true });
    let done = false;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"connection_ack"')) {
        ws.send(message);
        const settle = new Promise((r) => setTimeout(r, whileOpen ? 150 : lingerMs));
        void settle
          .then(() => (done ? undefined : whileOpen?.()))
          .then(
            () => ws.close(1000),
            (err: unknown) => give(err instanceof Error ? err : new Error(String(err))),
          );
        return;
      }
      received.push(text);
      if (/"type":"(complete|error)"/.test(text)) {
        done = true;
        ws.close(1000);
      }
    });
    ws.on('error', () => undefined); // the close that follows says what happened
    ws.on('close', (closeCode) => {
      clearTimeout(timeout);
      run.removeEventListener('abort', onAbort);
      resolve({ closeCode, received });
    });
  });
}

/** A raw OTLP/gRPC Export call with a deadline (the body is sent exactly as given). */
function grpcExport(addr: string, signal: Signal, body: Buffer, deadlineMs: number): Promise<{ code: grpc.status; details: string }> {
  const Client = grpc.makeGenericClientConstructor(exportServiceDefinition(signal), 'Export');
  const client = new Client(addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Export(body: Buffer, md: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void): void;
  };
  return new Promise((resolve) => {
    client.Export(body, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' });
    });
  });
}

export function printReport(report: FuzzReport, log: (line: string) => void): void {
  const { failures, rssMb, ...rest } = report;
  for (const line of JSON.stringify({ ...rest, failures: failures.length, rssMb: { ...rssMb, samples: rssMb.samples.length, largestSteps: undefined } }, null, 2).split('\n')) log(line);
  log(`gateway RSS (MB, one sample a second): ${rssMb.samples.join(' ')}`);
  log(`largest RSS steps over one case: ${rssMb.largestSteps.map((s) => `case ${s.case} (${s.kind}) +${s.mb} MB`).join(', ')}`);
  for (const f of failures) log(`FAIL ${f}`);
}

async function main(): Promise<void> {
  const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  const onlyCase = process.env.FUZZ_CASE === undefined ? undefined : Number(process.env.FUZZ_CASE);
  const gw = await spawnGateway(FUZZED_GATEWAY_CONFIG, process.env.FUZZ_PORT_BASE ? Number(process.env.FUZZ_PORT_BASE) : undefined);
  try {
    console.log(`fuzzing gateway pid ${gw.pid} for ${seconds} s, seed ${seed} (replay with FUZZ_SEED=${seed}; one case with FUZZ_CASE=<n>)`);
    const report = await runFuzz(gw, { seconds, seed, onlyCase, outDir: process.env.FUZZ_OUT, maxRssGrowthMb: Number(process.env.FUZZ_MAX_RSS_GROWTH_MB ?? 256), log: (l) => console.log(l) });
    printReport(report, (l) => console.log(l));
    process.exitCode = report.failures.length ? 1 : 0;
  } finally {
    await gw.stop(5_000);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
