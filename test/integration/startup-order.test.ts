// The receivers listen before the store has opened: what they acknowledge meanwhile waits in the
// pipeline and is stored once DuckDB is open (also when the gateway is stopped before that), and a
// store that cannot open still fails start-up with its error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { createRootLogger, silentLogger } from '../../src/logger.ts';
import { deferred } from '../../ingest/helpers/deferred.ts';
import { testConfig } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** Starts an app whose store opens only when `open` is resolved; resolves once OTLP listens. */
async function startHeld(dataPath: string, overrides: Record<string, unknown> = {}) {
  const open = deferred<void>();
  const app = buildApp(testConfig({ search: { enabled: false }, ...overrides }, dataPath), { logger: silentLogger(), beforeStoreOpen: () => open.promise });
  const started = app.start();
  started.catch(() => undefined);
  const addrs = await waitFor(async () => app.addresses(), (a) => a.otlpHttp !== undefined && a.otlpGrpc !== undefined, 'OTLP listening');
  return { app, open, started, otlp: { otlpGrpc: addrs.otlpGrpc!, otlpHttp: `http://${addrs.otlpHttp!}` } };
}

test('spans acknowledged while the store is still opening are stored once it opens', async () => {
  const { app, open, started, otlp } = await startHeld(':memory:');
  try {
    const grpc = await sendTrace('grpc', otlp, { service: 'early-grpc' });
    const http = await sendTrace('http-proto', otlp, { service: 'early-http' });
    assert.equal(app.internals.store(), undefined, 'the store has not opened yet');
    assert.equal(app.ready(), false);
    open.resolve();
    await started;
    const url = `http://${app.addresses().graphql}/graphql`;
    for (const sent of [grpc, http]) {
      const data = await waitFor(
        () => gqlData<{ trace: { spanCount: number; rootSpan: { service: string } } | null }>(url, `{ trace(traceId: "${sent.traceId}") { spanCount rootSpan { service } } }`),
        (d) => d.trace !== null,
        `trace ${sent.traceId}`,
      );
      assert.equal(data.trace?.spanCount, 2);
    }
  } finally {
    open.resolve();
    await app.stop();
  }
});

test('while the store opens, the GraphQL port is bound and says it is starting: /healthz 200, /readyz 503, queries and WebSocket upgrades 503 with Retry-After', async () => {
  const { app, open, started } = await startHeld(':memory:');
  try {
    const base = `http://${app.addresses().graphql}`;
    assert.notEqual(app.addresses().graphql, '', 'the GraphQL port is bound before the store opens');
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'starting' });
    const query = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ services }"}' });
    assert.equal(query.status, 503);
    assert.equal(query.headers.get('retry-after'), '1');
    const body = (await query.json()) as { errors: { message: string; extensions: { code: string } }[] };
    assert.equal(body.errors[0]!.extensions.code, 'GW_STARTING');
    assert.match(body.errors[0]!.message, /teleql is starting/);
    const upgrade = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://${app.addresses().graphql}/graphql`, 'graphql-transport-ws');
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => reject(new Error('the upgrade was accepted while starting')));
      ws.on('error', () => undefined);
    });
    assert.equal(upgrade, 503);
    open.resolve();
    await started;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.deepEqual(await gqlData<{ services: string[] }>(`${base}/graphql`, '{ services }'), { services: [] });
  } finally {
    open.resolve();
    await app.stop();
  }
});

test('a stop while the store is still opening writes what was acknowledged before closing it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-startup-'));
  const path = join(dir, 't.duckdb');
  try {
    const held = await startHeld(path);
    const sent = await sendTrace('http-json', held.otlp, { service: 'stopped-early' });
    const stopped = held.app.stop();
    held.open.resolve();
    await stopped;
    await held.started.catch(() => undefined);

    const again = buildApp(testConfig({ search: { enabled: false } }, path), { logger: silentLogger() });
    await again.start();
    try {
      const url = `http://${again.addresses().graphql}/graphql`;
      const data = await gqlData<{ trace: { spanCount: number } | null }>(url, `{ trace(traceId: "${sent.traceId}") { spanCount } }`);
      assert.equal(data.trace?.spanCount, 2);
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store that cannot open fails start-up with its error after the receivers listened, and the stop does not wait on it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-startup-'));
  const path = join(dir, 'not-a-database.duckdb');
  writeFileSync(path, 'this is not a DuckDB file\n'.repeat(1000));
  try {
    // Retries for 10 minutes: a batch acknowledged before the open failed was retried until the
    // exporter gave up (30 s by default), and the stop waited for it.
    const { app, open, started, otlp } = await startHeld(path, { exporters: { duckdb: { retry: { maxElapsedMs: 600_000 } } } });
    await sendTrace('http-proto', otlp, { service: 'acknowledged-before-failure' });
    open.resolve();
    await assert.rejects(started, (err: Error) => /duckdb|database|not a valid/i.test(err.message));
    assert.equal(app.ready(), false);
    const stopped = await Promise.race([app.stop().then(() => 'stopped'), new Promise((r) => setTimeout(r, 20_000, 'still stopping')).then((x) => x)]);
    assert.equal(stopped, 'stopped', 'the waiting batch fails at once: the store will not open on a retry');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the SECURITY warning for an exposed listener with auth off is logged before any listener accepts', async () => {
  const lines: { msg: string }[] = [];
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string });
      done();
    },
  });
  const exposed = { grpc: { host: '0.0.0.0' }, http: { host: '0.0.0.0' } };
  const app = buildApp(testConfig({ search: { enabled: false }, log: { level: 'info' }, graphql: { host: '0.0.0.0' }, receivers: { otlp: exposed } }), {
    logger: createRootLogger('info', logs),
  });
  try {
    await app.start();
  } finally {
    await app.stop();
  }
  const messages = lines.map((l) => l.msg);
  const firstWarning = messages.findIndex((m) => m.startsWith('SECURITY: '));
  assert.ok(firstWarning >= 0, 'the warning is logged');
  assert.equal(messages.filter((m) => m.startsWith('SECURITY: ')).length, 3, 'one per exposed listener: graphql, otlp grpc, otlp http');
  for (const listening of ['otlp receiver listening', 'accepting OTLP', 'ready']) {
    const at = messages.indexOf(listening);
    assert.ok(at > firstWarning, `the warning comes before "${listening}" (${JSON.stringify(messages)})`);
  }
});
