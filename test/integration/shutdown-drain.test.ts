// Stopping behind a load balancer: for shutdown.drainMs after the stop begins, /readyz answers 503
// while OTLP and GraphQL are still served; then the listeners close and what was acknowledged is
// flushed as before. A gateway that never turned ready stops at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { startGateway, testConfig } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { deferred } from '../../ingest/helpers/deferred.ts';

const DRAIN_MS = 1500;

test('during the drain /readyz answers 503 while OTLP over HTTP and gRPC and GraphQL are still served; then the listeners close', async () => {
  const gw = await startGateway({ search: { enabled: false }, shutdown: { drainMs: DRAIN_MS } });
  const base = gw.graphqlUrl.replace(/\/graphql$/, '');
  const otlp = { otlpGrpc: gw.otlpGrpc, otlpHttp: gw.otlpHttp };
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const began = performance.now();
  const stopped = gw.stop().then(() => performance.now() - began);
  try {
    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 503);
    assert.deepEqual(await readyz.json(), { status: 'draining' });
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'alive while draining');
    assert.equal(gw.app.ready(), false);

    const viaHttp = await sendTrace('http-proto', otlp, { service: 'drain-http' });
    const viaGrpc = await sendTrace('grpc', otlp, { service: 'drain-grpc' });
    for (const sent of [viaHttp, viaGrpc]) {
      const data = await waitFor(
        () => gqlData<{ trace: { spanCount: number } | null }>(gw.graphqlUrl, `{ trace(traceId: "${sent.traceId}") { spanCount } }`),
        (d) => d.trace !== null,
        `trace ${sent.traceId} queried during the drain`,
      );
      assert.equal(data.trace?.spanCount, 2);
    }
    assert.ok(performance.now() - began < DRAIN_MS, 'all of the above happened within the drain');
  } finally {
    const tookMs = await stopped;
    assert.ok(tookMs >= DRAIN_MS - 50, `the stop waited for the drain (${Math.round(tookMs)} ms)`);
  }
  await assert.rejects(fetch(`${base}/readyz`), 'the GraphQL listener is closed after the drain');
  await assert.rejects(fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST' }), 'the OTLP listener is closed after the drain');
});

// drainMs is 60 s and the test's timeout 30 s: stopping at all within it means no drain.
test('a gateway stopped while still starting (OTLP listening, not yet ready) stops without draining', { timeout: 30_000 }, async () => {
  const open = deferred<void>();
  const app = buildApp(testConfig({ search: { enabled: false }, shutdown: { drainMs: 60_000 } }), { logger: silentLogger(), beforeStoreOpen: () => open.promise });
  const started = app.start();
  started.catch(() => undefined);
  await waitFor(async () => app.addresses(), (a) => a.otlpHttp !== undefined, 'OTLP listening');
  const stopped = app.stop();
  open.resolve();
  await stopped; // no drain: it was never ready, so no load balancer sends to it
  await started.catch(() => undefined);
  assert.equal(app.ready(), false, 'and it does not turn ready once its start-up finishes');
});
