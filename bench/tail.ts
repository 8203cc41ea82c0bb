// npm run bench:tail — live tails under ingest: 10, 100 and 1,000 graphql-ws subscribers, each with
// a selective filter (one service of 1,000, so each sees 0.1 % of the spans).
//
// The gateway runs as a child process (OTLP/gRPC in, DuckDB file, tails on graphql-ws); this
// process is the load generator, its subscribers run in a worker thread (bench/tail-subscribers.ts).
// Per subscriber count it measures
// - at a fixed 10,000 spans/s: delivered events/s and the ingest-to-delivery latency of each
//   event (from just before the OTLP request carrying the span is sent to when its event arrives
//   here; spans carry their request's number in `bench.req`);
// - at full speed (8 requests in flight): acknowledged spans/s, against the same measurement
//   without subscribers taken in the same run, before and after (the machine is shared, so only
//   the ratio means much). Target: subscribers cost ≤ 15 % throughput, p99 ≤ 100 ms.
// After each paced phase it says what held every event over 100 ms (bench/tail-attribution.ts).
// Options: --subscribers 10,100,1000, --seconds N, --rate N, --step-rows N, --step-ms N,
// --flush-ms N, --busy-flush-ms N (tail.flushIntervalMs, busyFlushIntervalMs), --profile DIR.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Worker } from 'node:worker_threads';
import { exportServiceDefinition } from '../ingest/receivers/otlp/grpc.ts';
import type { InstrumentationScope, Resource, SpanRecord } from '../src/model/telemetry.ts';
import { benchSpan, encodeTraceRequests } from './otlp-requests.ts';
import type { SubscriberCommand, SubscriberPlan, SubscriberStats } from './tail-subscribers.ts';
import { arg, cpuSeconds, fmt, machine, summarize, waitForReady } from './lib.ts';
import type { ProbeReading } from './loop-probe.ts';
import { attribute, threadSampler, type SendRecord } from './tail-attribution.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { startRedis } from '../test/helpers/redis-server.ts';
import { distIsFresh } from '../bin/dist-fresh.js';

const seconds = arg('seconds', 10);
const rate = arg('rate', 10_000); // spans/s in the latency phase
const inFlight = arg('concurrency', 8);
const counts = (process.argv.includes('--subscribers') ? process.argv[process.argv.indexOf('--subscribers') + 1]! : '10,100,1000').split(',').map(Number);
const SERVICES = 1000;
const SPANS_PER_REQUEST = 100;
const REQUESTS = 400; // distinct pre-encoded requests, sent round-robin

// --- requests: 100 spans each over random services; every span names its request in bench.req ---
const resources: Resource[] = Array.from({ length: SERVICES }, (_, i) => ({
  attributes: [{ key: 'service.name', value: { stringValue: `svc-${i}` } }],
  droppedAttributesCount: 0,
  schemaUrl: '',
}));
const scope: InstrumentationScope = { name: 'bench-tail', version: '1.0.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
const groups: SpanRecord[][] = Array.from({ length: REQUESTS }, (_, req) => {
  const traceId = randomBytes(16).toString('hex');
  const now = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: SPANS_PER_REQUEST }, (_, i) =>
    benchSpan({
      resource: resources[Math.floor(Math.random() * SERVICES)]!,
      scope,
      traceId,
      spanId: randomBytes(8).toString('hex'),
      parentSpanId: i === 0 ? '' : '0000000000000001',
      name: `op-${i % 20}`,
      startTimeUnixNano: now,
      endTimeUnixNano: now + 5_000_000n,
      attributes: [
        { key: 'bench.req', value: { stringValue: String(req) } },
        { key: 'http.route', value: { stringValue: `/api/${i % 10}` } },
        { key: 'http.response.status_code', value: { intValue: String(200 + (i % 5) * 100) } },
      ],
    }),
  );
});
const requests = encodeTraceRequests(groups);
// Absolute send times (timeOrigin + now()), shared with the subscribers' worker thread.
const sentAt = new Float64Array(new SharedArrayBuffer(REQUESTS * Float64Array.BYTES_PER_ELEMENT));

// --- the gateway ---
const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-tail-'));
const [grpcPort, httpPort, gqlPort] = [await freePort(), await freePort(), await freePort()];
const configFile = join(dir, 'teleql.yaml');
// --step-rows N: storage.duckdb.writeStepRows (rows per data chunk the writer appends; default 512).
const STEP_ROWS = arg('step-rows', 512);
// --step-ms N: storage.duckdb.writeStepMs (the longest the writer runs before yielding; 0: the default).
const STEP_MS = arg('step-ms', 0);
// --flush-ms N / --busy-flush-ms N: tail.flushIntervalMs / busyFlushIntervalMs (how long pushed
// frames are held to share a write, while the gateway's event loop has room / is saturated; -1: the default).
const FLUSH_MS = arg('flush-ms', -1);
const BUSY_FLUSH_MS = arg('busy-flush-ms', -1);
// Opening 1,000 subscriptions keeps the serving gateway busy for a moment, long enough for its
// busy hold (two saturated half-second windows) to hold the first rounds 100 ms: sessions 25, 30
// and 39 saw a paced p99 over 100 ms only from the phase's first 0.5 s. The paced phase measures
// steady delivery, so it starts once those windows have passed (`--settle-ms 0`: at once).
const SETTLE_MS = arg('settle-ms', 1500);
// --replica: the subscribers connect to a second gateway, a tail replica that takes no OTLP, which
// hears the ingesting one through Redis (tail.redis.url; redis-server on a free port). Both it and
// Redis run on CPU 1 beside the load generator, so the ingesting gateway's core pays only for
// publishing to Redis: the deployment docs/live-tails.md suggests for many busy tails.
const replica = process.argv.includes('--replica');
// --replica-nice N: the tail replica and Redis run at this nice value, so the load generator on the
// same core is served first: the ingesting gateway is then fed at full speed, and the replica
// delivers with what is left (events/s delivered says how much).
const REPLICA_NICE = arg('replica-nice', 0);
const redis = replica ? await startRedis() : undefined;
if (redis && REPLICA_NICE) execFileSync('renice', ['-n', String(REPLICA_NICE), '-p', String(redis.pid)]);
const gatewayConfig = (db: string) =>
  `storage:\n  duckdb:\n    path: ${join(dir, db)}\n    threads: 1\n    writeStepRows: ${STEP_ROWS}\n${STEP_MS ? `    writeStepMs: ${STEP_MS}\n` : ''}` +
  `tail:\n  maxSubscriptions: 5000\n  maxPerTenant: 5000\n${FLUSH_MS >= 0 ? `  flushIntervalMs: ${FLUSH_MS}\n` : ''}${BUSY_FLUSH_MS >= 0 ? `  busyFlushIntervalMs: ${BUSY_FLUSH_MS}\n` : ''}` +
  (redis ? `  redis:\n    url: ${redis.url}\n` : '');
writeFileSync(configFile, gatewayConfig('bench.duckdb'));
// `--profile DIR`: the gateway writes a V8 CPU profile there when it exits.
const profileDir = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1]! : '';
const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
// bench/loop-probe.ts reports the gateway's event-loop delay over the IPC channel.
// The gateway `npm start` runs: dist/ when it is fresh (tsx's own transform differs: esbuild wraps
// every closure it creates in a naming call). Stale or missing, the sources run, and the report says so.
const fromDist = distIsFresh();
const gatewayMain = fromDist ? 'dist/src/main.js' : 'src/main.ts';
const gatewayEnv = (ports: number[]) => {
  const [grpc, http, gql] = ports.map(String);
  return { ...process.env, TELEQL_OTLP_GRPC_PORT: grpc, TELEQL_OTLP_HTTP_PORT: http, TELEQL_GRAPHQL_PORT: gql, TELEQL_LOG_LEVEL: 'warn' };
};
const gateway: ChildProcess = spawn('taskset', ['-c', '0', process.execPath, ...profile, '--import', 'tsx', '--import', './bench/loop-probe.ts', gatewayMain, 'serve', '--config', configFile], {
  env: gatewayEnv([grpcPort, httpPort, gqlPort]),
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
// The tail replica (--replica) inherits this process's CPU 1.
const tailPorts = replica ? [await freePort(), await freePort(), await freePort()] : [grpcPort, httpPort, gqlPort];
const tailGqlPort = tailPorts[2]!;
const replicaConfig = join(dir, 'replica.yaml');
if (replica) writeFileSync(replicaConfig, gatewayConfig('replica.duckdb'));
const tailGateway: ChildProcess | undefined = replica
  ? spawn('nice', ['-n', String(REPLICA_NICE), process.execPath, '--import', 'tsx', gatewayMain, 'serve', '--config', replicaConfig], { env: gatewayEnv(tailPorts), stdio: ['ignore', 'inherit', 'inherit'] })
  : undefined;
type LoopDelay = ProbeReading['loop'];
/** The gateway's event-loop delay (ms), stalls and GC since the last reset. */
function gatewayLoop(msg: 'reset' | 'read'): Promise<ProbeReading | undefined> {
  if (msg === 'reset') {
    gateway.send('reset');
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    gateway.once('message', (m) => resolve(m as ProbeReading));
    gateway.send('read');
  });
}
// This process's own event-loop delay: a stalled load generator delays sends and receipts alike.
const clientLoop = monitorEventLoopDelay({ resolution: 10 });
clientLoop.enable();
// The gateway goes with this process, however it ends.
const stopGateway = () => {
  for (const g of [gateway, tailGateway]) if (g && g.exitCode === null) g.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.once('exit', stopGateway);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
await waitForReady(gqlPort, 60_000);
if (replica) await waitForReady(tailGqlPort, 60_000);

const OtlpClient = grpc.makeGenericClientConstructor(exportServiceDefinition('traces'), 'TraceService');
const otlp = new OtlpClient(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 }) as unknown as grpc.Client & {
  Export(req: Buffer, cb: (err: grpc.ServiceError | null) => void): void;
};
let next = 0;
// While paced: every send and when it was acknowledged, to say what held slow events.
let sendLog: SendRecord[] | undefined;
/** Sends the next request; resolves with whether it was accepted. */
function send(): Promise<boolean> {
  const i = next++ % REQUESTS;
  const sent = (sentAt[i] = performance.timeOrigin + performance.now());
  const record: SendRecord | undefined = sendLog ? { req: i, sent, ack: NaN } : undefined;
  if (record) sendLog!.push(record);
  return new Promise((resolve) =>
    otlp.Export(requests[i]!, (err) => {
      if (record) record.ack = performance.timeOrigin + performance.now();
      resolve(!err);
    }),
  );
}
await send();

/**
 * A reader of a gateway's /metrics as it is now (the ingesting one's, or the one the subscribers
 * use): `sample(series)` is one series' value (name and labels as printed), NaN when absent.
 */
async function gatewayMetrics(port = gqlPort): Promise<(series: string) => number> {
  const lines = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split('\n');
  return (series) => {
    const line = lines.find((l) => l.startsWith(`${series} `));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  };
}

const tailSubscriptions = async () => (await gatewayMetrics(tailGqlPort))('teleql_tail_subscriptions');

// --- subscribers: in a worker thread (bench/tail-subscribers.ts) ---
const subscriberEntry = JSON.stringify(new URL('./tail-subscribers.ts', import.meta.url).href);
const subscriberPlan: SubscriberPlan = { gqlPort: tailGqlPort, services: SERVICES, sentAt: sentAt.buffer as SharedArrayBuffer };
// tsx's loader does not reach a worker's entry file on Node 20: register it, then import.
const subscriberWorker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${subscriberEntry}); })`, { eval: true, workerData: subscriberPlan });
subscriberWorker.unref();
function ask<T>(cmd: SubscriberCommand): Promise<T> {
  return new Promise((resolve) => {
    subscriberWorker.once('message', (m: T) => resolve(m));
    subscriberWorker.postMessage(cmd);
  });
}
const deliveredSoFar = async () => (await ask<SubscriberStats>({ cmd: 'stats' })).delivered;

async function subscribe(n: number): Promise<void> {
  const r = await ask<'ok' | { error: string }>({ cmd: 'subscribe', n });
  if (r !== 'ok') throw new Error(r.error);
  const deadline = Date.now() + 120_000;
  while ((await tailSubscriptions()) !== n) {
    if (Date.now() > deadline) throw new Error(`only ${await tailSubscriptions()} of ${n} subscriptions opened`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The gateway's push-delivery counters (socket writes, events they carried, rounds held while busy). */
async function pushCounters(): Promise<{ writes: number; events: number; busyRounds: number }> {
  const sample = await gatewayMetrics(tailGqlPort);
  return { writes: sample('teleql_tail_push_writes_total'), events: sample('teleql_tail_push_events_total'), busyRounds: sample('teleql_tail_push_busy_rounds_total') };
}

/** Waits until the gateway has written everything it acknowledged, so phases do not overlap. */
async function drained(): Promise<void> {
  for (;;) {
    // Absent (no batch queued yet) counts as empty.
    const queued = (await gatewayMetrics())('teleql_batch_queue_items{component="batch/traces"}');
    if (!(queued > 0)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function unsubscribe(): Promise<void> {
  await ask({ cmd: 'unsubscribe' });
  while ((await tailSubscriptions()) !== 0) await new Promise((r) => setTimeout(r, 50));
}

/**
 * The gateway's CPU time so far (user + system, ms), from /proc: on a shared machine throughput
 * moves with other work, CPU time per span or event much less. The system part includes the
 * loopback's receive side of every frame sent, billed to the sender.
 */
function gatewayCpuMs(): number {
  try {
    return cpuSeconds(gateway.pid!) * 1000;
  } catch {
    return NaN; // not Linux
  }
}

/** Full-speed ingest for `seconds`: acknowledged spans/s, events delivered meanwhile, and the gateway's CPU time. */
async function throughput(): Promise<{ spansPerS: number; eventsPerS: number; spans: number; events: number; cpuMs: number; seconds: number; eventsPerWrite: number; busyRounds: number }> {
  await drained();
  const p0 = await pushCounters();
  const d0 = await deliveredSoFar();
  const c0 = gatewayCpuMs();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let acked = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        if (await send()) acked += SPANS_PER_REQUEST;
        else await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const cpuMs = gatewayCpuMs() - c0;
  if (profileDir) {
    const offset = (await gatewayLoop('read'))!.absMinusMonoMs;
    const abs = (rel: number) => ((performance.timeOrigin + rel - offset) / 1000).toFixed(3);
    console.log(`  (full-speed phase: monotonic ${abs(t0)}–${abs(deadline)} s)`);
  }
  const events = (await deliveredSoFar()) - d0;
  const p1 = await pushCounters();
  return { spansPerS: acked / s, eventsPerS: events / s, spans: acked, events, cpuMs, seconds: s, eventsPerWrite: (p1.events - p0.events) / (p1.writes - p0.writes), busyRounds: p1.busyRounds - p0.busyRounds };
}

/** `rate` spans/s for `seconds`: delivered events/s and latency. */
async function paced(rate: number): Promise<{
  eventsPerS: number;
  p50: number;
  p99: number;
  n: number;
  sentPerS: number;
  gatewayLoop: LoopDelay;
  clientLoopP99: number;
  worker: { utilisation: number; loopP99: number };
  busyRounds: number;
}> {
  await drained();
  await gatewayLoop('reset');
  clientLoop.reset();
  await ask({ cmd: 'record', on: true });
  const d0 = await deliveredSoFar();
  const p0 = await pushCounters();
  sendLog = [];
  const threads = threadSampler(gateway.pid!);
  const t0 = performance.now();
  const interval = (SPANS_PER_REQUEST / rate) * 1000;
  let sent = 0;
  const pending: Promise<boolean>[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    const due = t0 + sent * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(send());
    sent++;
  }
  await Promise.all(pending);
  await new Promise((r) => setTimeout(r, 500)); // the last events
  await ask({ cmd: 'record', on: false });
  const s = (performance.now() - t0) / 1000;
  const busyRounds = (await pushCounters()).busyRounds - p0.busyRounds;
  const stats = await ask<SubscriberStats>({ cmd: 'stats' });
  const sum = summarize(stats.latencies);
  const probe = (await gatewayLoop('read'))!;
  const loop = probe.loop;
  attribute(stats, sendLog, probe.stalls, probe.gcs, threads.stop(), stats.stalls, probe.absMinusMonoMs);
  console.log(`  (paced phase: monotonic ${((sendLog[0]!.sent - probe.absMinusMonoMs) / 1000).toFixed(3)}–${((sendLog.at(-1)!.sent - probe.absMinusMonoMs) / 1000).toFixed(3)} s)`);
  sendLog = undefined;
  return {
    eventsPerS: (stats.delivered - d0) / s,
    p50: sum.p50,
    p99: sum.p99,
    n: sum.n,
    sentPerS: (sent * SPANS_PER_REQUEST) / s,
    gatewayLoop: loop,
    clientLoopP99: clientLoop.percentile(99) / 1e6,
    worker: { utilisation: stats.utilisation, loopP99: stats.loopP99 },
    busyRounds,
  };
}

console.log(`machine: ${machine()}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(fromDist ? 'gateway: dist/ (what npm start runs)' : 'gateway: the TypeScript sources through tsx (dist/ is missing or older than a source: `npm run build` to measure what npm start runs)');
if (replica) console.log(`--replica: the subscribers use a tail replica (CPU 1) that hears the ingesting gateway through Redis (CPU 1)${REPLICA_NICE ? `, both at nice ${REPLICA_NICE}` : ''}`);
console.log(
  `gateway pinned to CPU 0, load generator (main thread) and subscribers (worker thread) on CPU 1; ${seconds} s per phase; ` +
    `tail.flushIntervalMs ${FLUSH_MS >= 0 ? FLUSH_MS : 'default'}, busyFlushIntervalMs ${BUSY_FLUSH_MS >= 0 ? BUSY_FLUSH_MS : 'default'}; ` +
    `${SPANS_PER_REQUEST} spans per OTLP/gRPC request over ${SERVICES} services; each subscriber filters one service; ` +
    `paced phases start ${SETTLE_MS} ms after the subscriptions opened\n`,
);

// A discarded warm-up, so the first baseline does not include V8 and DuckDB warming up; then one
// with the most subscribers, so no phase meets the delivery path cold (a tail replica gets no
// request before its first subscriber: with `--subscribers 1000` alone, its first paced half
// second decoded and delivered through cold code, p99 135–189 ms).
await throughput();
await subscribe(Math.max(...counts));
await throughput();
await unsubscribe();
const base1 = await throughput();
/** The ingesting gateway's CPU time over the phase's wall time: under 100 % it waited for requests (the load generator's core was short). */
const busyShare = (t: { cpuMs: number; seconds: number }) => `gateway ${fmt(t.cpuMs / (t.seconds * 10), 0)} % of its core`;
console.log(`no subscribers        ingest ${fmt(base1.spansPerS, 0).padStart(8)} spans/s (full speed, ${inFlight} in flight; ${busyShare(base1)})`);
// Latency at a rate the gateway cannot sustain measures its queue, not the tail: on a machine too
// busy for the target rate, measure at half the throughput just measured, and say so.
const pacedRate = Math.min(rate, Math.floor(base1.spansPerS / 2 / SPANS_PER_REQUEST) * SPANS_PER_REQUEST || SPANS_PER_REQUEST);
if (pacedRate < rate) console.log(`(this machine does not sustain ${fmt(rate, 0)} spans/s now: latency is measured at ${fmt(pacedRate, 0)} spans/s)`);
const rows: { n: number; paced: Awaited<ReturnType<typeof paced>>; full: Awaited<ReturnType<typeof throughput>> }[] = [];
for (const n of counts) {
  await subscribe(n);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const p = await paced(pacedRate);
  const full = await throughput();
  rows.push({ n, paced: p, full });
  console.log(
    `${String(n).padStart(5)} subscribers     at ${fmt(p.sentPerS, 0)} spans/s: ${fmt(p.eventsPerS, 0)} events/s delivered, latency p50 ${fmt(p.p50, 1)} ms p99 ${fmt(p.p99, 1)} ms (${p.n} events, ${p.busyRounds} rounds held as busy)` +
      ` | full speed: ingest ${fmt(full.spansPerS, 0)} spans/s (${busyShare(full)}), ${fmt(full.eventsPerS, 0)} events/s delivered, ${fmt(full.eventsPerWrite, 2)} events per socket write, ${full.busyRounds} rounds held as busy` +
      `\n                      event-loop delay while paced: gateway p50 ${fmt(p.gatewayLoop.p50, 1)} / p99 ${fmt(p.gatewayLoop.p99, 1)} / max ${fmt(p.gatewayLoop.max, 1)} ms, load generator p99 ${fmt(p.clientLoopP99, 1)} ms, subscribers' worker p99 ${fmt(p.worker.loopP99, 1)} ms (${fmt(p.worker.utilisation * 100, 0)} % busy)`,
  );
  await unsubscribe();
}
const base2 = await throughput();
console.log(`no subscribers again  ingest ${fmt(base2.spansPerS, 0).padStart(8)} spans/s (${busyShare(base2)})`);
const baseline = (base1.spansPerS + base2.spansPerS) / 2;

console.log(`\nsubscribers | events/s @${fmt(pacedRate / 1000, 1)}k | p50 ms | p99 ms | ingest spans/s (full) | vs no subscribers`);
for (const r of rows) {
  const cost = 1 - r.full.spansPerS / baseline;
  console.log(
    `${String(r.n).padStart(11)} | ${fmt(r.paced.eventsPerS, 0).padStart(13)} | ${fmt(r.paced.p50, 1).padStart(6)} | ${fmt(r.paced.p99, 1).padStart(6)} | ${fmt(r.full.spansPerS, 0).padStart(21)} | ${cost >= 0 ? '−' : '+'}${fmt(Math.abs(cost) * 100, 1)} %`,
  );
}
// Gateway CPU per delivered event at full speed: the phase's CPU time less what its spans cost
// without subscribers (µs per span of the two baselines), over the events delivered.
const baseCpuPerSpan = (base1.cpuMs + base2.cpuMs) / (base1.spans + base2.spans);
// With the gateway short of requests in a phase (under 100 % of its core: the load generator's core
// also runs the subscribers' worker, and with --replica the replica and Redis), spans/s measures the
// load generator; spans per CPU-second of the gateway is what it ingests where it is the bottleneck.
console.log(`\ngateway CPU at full speed: ${fmt(baseCpuPerSpan * 1000, 1)} µs per span without subscribers`);
for (const r of rows) {
  const perSpan = r.full.cpuMs / r.full.spans;
  const perEvent = r.full.events > 0 ? (r.full.cpuMs - baseCpuPerSpan * r.full.spans) / r.full.events : NaN;
  const cost = 1 - baseCpuPerSpan / perSpan;
  console.log(
    `${String(r.n).padStart(5)} subscribers: ${fmt(perSpan * 1000, 1)} µs per span, ${fmt(perEvent * 1000, 1)} µs per delivered event (${fmt(r.full.events, 0)} events); ` +
      `spans per gateway CPU-second ${cost >= 0 ? '−' : '+'}${fmt(Math.abs(cost) * 100, 1)} % against none`,
  );
}
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`(baseline: mean of ${fmt(base1.spansPerS, 0)} and ${fmt(base2.spansPerS, 0)} spans/s without subscribers)`);

otlp.close();
for (const g of [gateway, tailGateway]) {
  if (!g) continue;
  g.kill('SIGTERM');
  await new Promise((r) => g.once('exit', r));
}
await redis?.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
