// The memory limiter against the way a gateway ran out of memory: a backend down (here a Jaeger
// that answers 503), so its exporter holds every span it is given (65,536 in memory by default),
// and spans of 12 KB attributes coming in (under 16 KB: DuckDB's own limit on long strings,
// docs/known-gaps.md, is not what this tests). `teleql serve` runs as a real process with a small V8
// heap: without the limiter it dies of "JavaScript heap out of memory"; with it (the default) the
// senders get 503 + Retry-After naming the limit, the process keeps serving, and every span it
// acknowledged is in DuckDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gqlData } from '../helpers/graphql-client.ts';
import { randomTraceId, spansJson } from '../helpers/otlp-bodies.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { freePort } from '../helpers/free-port.ts';

const BIN = new URL('../../bin/teleql.js', import.meta.url).pathname;
const HEAP_MB = 192;
const SPANS_PER_REQUEST = 256;
const REQUESTS = 150; // 256 × 12 KB × 150 = 470 MB of attributes: more than twice the heap

/** A Jaeger OTLP/HTTP endpoint that is down: every export gets 503. */
async function downJaeger(): Promise<{ url: string; server: Server }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(503, { 'retry-after': '60' }).end('unavailable'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

interface Outcome {
  statuses: number[];
  refusal?: { status: number; retryAfter: string | null; body: string };
  exitCode: number | null | 'running';
  output: string;
  acceptedTraces: string[];
  graphqlUrl: string;
  stop: () => Promise<void>;
}

async function flood(memoryLimiter: Record<string, number>): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-memlimit-'));
  const jaeger = await downJaeger();
  const [grpc, http, graphql] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'teleql.yaml');
  writeFileSync(
    config,
    [
      'processors:',
      `  memory_limiter: ${JSON.stringify(memoryLimiter)}`,
      'exporters:',
      // Its own spill: by default ./data/spill, where the run before (the one this test takes down) left its spans.
      `  jaeger: { protocol: http, endpoint: "${jaeger.url}", spill: { directory: "${join(dir, 'spill')}" } }`,
      'pipelines:',
      '  traces: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [duckdb, jaeger] }',
      `storage: { duckdb: { path: "${join(dir, 'teleql.duckdb')}" } }`,
      'search: { enabled: false }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], {
    env: {
      ...process.env,
      NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`,
      TELEQL_OTLP_GRPC_PORT: String(grpc),
      TELEQL_OTLP_HTTP_PORT: String(http),
      TELEQL_GRAPHQL_PORT: String(graphql),
      TELEQL_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let exitCode: number | null | 'running' = 'running';
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exitCode = code ?? (signal ? -1 : null)), resolve())));
  const graphqlUrl = `http://127.0.0.1:${graphql}/graphql`;
  const stop = async () => {
    if (exitCode === 'running') {
      child.kill('SIGKILL');
      await exited;
    }
    jaeger.server.closeAllConnections();
    jaeger.server.close();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(() => fetch(`http://127.0.0.1:${graphql}/readyz`).then((r) => r.status).catch(() => 0), (s) => s === 200, 'readiness', 30_000);
    const big = 'x'.repeat(12 * 1024);
    const statuses: number[] = [];
    const acceptedTraces: string[] = [];
    let refusal: Outcome['refusal'];
    for (let i = 0; i < REQUESTS && exitCode === 'running'; i++) {
      const traceId = randomTraceId();
      // Each span's attribute differs, so no two share a string.
      const body = spansJson(Array.from({ length: SPANS_PER_REQUEST }, (_, j) => ({ traceId, name: `big-${j}`, service: 'flood', attributes: { blob: `${i}-${j}-${big}` } })));
      const res = await fetch(`http://127.0.0.1:${http}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      }).catch(() => null);
      if (!res) break; // the process died, or stopped answering, mid-request
      statuses.push(res.status);
      const text = await res.text();
      if (res.status === 200) acceptedTraces.push(traceId);
      else if (!refusal) refusal = { status: res.status, retryAfter: res.headers.get('retry-after'), body: text };
      // Senders honour Retry-After; here the next request goes at once, as a flood would.
    }
    return { statuses, refusal, exitCode, output, acceptedTraces, graphqlUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

test('without the memory limiter, a dead backend and large spans take the gateway down (the load the next test survives)', async () => {
  const run = await flood({ limitPercentage: 0 });
  try {
    assert.ok(run.statuses.length < REQUESTS, `the gateway answered all ${REQUESTS} requests without a limiter; the test's load is too small`);
    assert.ok(!run.statuses.includes(503), 'nothing was refused');
    // Down: dead of "JavaScript heap out of memory", or alive but collecting garbage too hard to answer.
    const health = await fetch(run.graphqlUrl.replace('/graphql', '/healthz'), { signal: AbortSignal.timeout(10_000) }).then((r) => r.status).catch(() => 0);
    assert.equal(health, 0, `it still answered /healthz after ${run.statuses.length} requests`);
  } finally {
    await run.stop();
  }
});

test('with the memory limiter (the default), the flood gets 503 + Retry-After naming the limit, and the gateway keeps serving what it accepted', async () => {
  const run = await flood({});
  try {
    assert.equal(run.exitCode, 'running', run.output.slice(-2000));
    assert.equal(run.statuses.length, REQUESTS);
    assert.ok(run.refusal, `no request was refused: ${JSON.stringify(run.statuses)}`);
    assert.equal(run.refusal.status, 503);
    assert.ok(Number(run.refusal.retryAfter) > 0);
    assert.match(run.refusal.body, /memory limit: the gateway's heap holds \d+ MiB, over the soft limit of \d+ MiB \(processors\.memory_limiter\); retry later/);
    assert.match(run.output, /"msg":"memory limit: refusing data until the heap is back under the soft limit"/);
    assert.ok(run.acceptedTraces.length >= 5, `accepted ${run.acceptedTraces.length}`);

    // Every acknowledged span is stored; the gateway answers queries while its heap is full.
    const spanCounts = async () => {
      const counts: number[] = [];
      for (const id of run.acceptedTraces) counts.push((await gqlData<{ trace: { spanCount: number } | null }>(run.graphqlUrl, `{ trace(traceId: "${id}") { spanCount } }`)).trace?.spanCount ?? 0);
      return counts;
    };
    const counts = await waitFor(spanCounts, (c) => c.every((n) => n === SPANS_PER_REQUEST), 'every accepted span stored', 60_000);
    assert.deepEqual(new Set(counts), new Set([SPANS_PER_REQUEST]));
    const health = await fetch(run.graphqlUrl.replace('/graphql', '/healthz'));
    assert.equal(health.status, 200);
    const metrics = await (await fetch(run.graphqlUrl.replace('/graphql', '/metrics'))).text();
    const refused = /teleql_memory_limiter_refused_items_total\{component="memory_limiter\/traces"\} (\d+)/.exec(metrics);
    assert.equal(Number(refused?.[1]), (REQUESTS - run.acceptedTraces.length) * SPANS_PER_REQUEST);
  } finally {
    await run.stop();
  }
});
