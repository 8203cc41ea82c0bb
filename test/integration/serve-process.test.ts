// `teleql serve` as a real process: configured by file and environment, stopped with SIGTERM while
// acknowledged data still waits in the batch queue, restarted on the same DuckDB file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gqlData } from '../helpers/graphql-client.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { freePort } from '../helpers/free-port.ts';
import { logLines, serve, untilReady, withServeSetup } from '../helpers/teleql-serve.ts';
import { spansJson } from '../helpers/otlp-bodies.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Socket } from 'node:net';

test('SIGTERM flushes acknowledged spans into DuckDB and a restart serves them', () =>
  withServeSetup(async ({ dir, config, grpc, http, graphql, env }) => {
    // A batch timeout far longer than the test: the spans can only reach DuckDB through the
    // shutdown flush.
    writeFileSync(config, `processors:\n  batch:\n    timeoutMs: 600000\n    sendBatchSize: 1000000\nstorage:\n  duckdb:\n    path: ${join(dir, 'data', 'teleql.duckdb')}\n`);
    const graphqlUrl = `http://127.0.0.1:${graphql}/graphql`;

    const first = serve(['--config', config], env);
    await untilReady(first, graphql);
    const sent = await sendTrace('http-proto', { otlpGrpc: `127.0.0.1:${grpc}`, otlpHttp: `http://127.0.0.1:${http}` }, { service: 'flush-svc' });
    const before = await gqlData<{ trace: { spanCount: number } | null }>(graphqlUrl, `{ trace(traceId: "${sent.traceId}") { spanCount } }`);
    assert.equal(before.trace, null, 'the spans are still queued, not yet written');
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());
    assert.match(first.output(), /"msg":"stopped"/);

    const second = serve(['--config', config], env);
    try {
      await untilReady(second, graphql);
      const after = await gqlData<{ trace: { spanCount: number } | null }>(graphqlUrl, `{ trace(traceId: "${sent.traceId}") { spanCount } }`);
      assert.equal(after.trace?.spanCount, 2);
      const lines = second.output().split('\n').filter((l) => l.startsWith('{'));
      const parsed = lines.map((l) => JSON.parse(l) as { component?: string; msg: string });
      assert.ok(parsed.every((l) => typeof l.component === 'string'), 'every log line names its component');
      assert.ok(parsed.some((l) => l.msg === 'accepting OTLP'));
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }));

test('a defect in the gateway loses nothing acknowledged: an unhandled rejection is logged and serving goes on; an uncaught exception stops as SIGTERM does (writing the queue) and exits 1', () =>
  // Node's default for both ended the process at once, and every span still queued for DuckDB was lost.
  withServeSetup(async ({ dir, config, grpc, http, graphql, env }) => {
    writeFileSync(config, `processors:\n  batch:\n    timeoutMs: 600000\n    sendBatchSize: 1000000\nstorage:\n  duckdb:\n    path: ${join(dir, 'teleql.duckdb')}\n`);
    const graphqlUrl = `http://127.0.0.1:${graphql}/graphql`;
    const endpoints = { otlpGrpc: `127.0.0.1:${grpc}`, otlpHttp: `http://127.0.0.1:${http}` };
    const fault = new URL('../fixtures/cli/fault-on-signal.mjs', import.meta.url).pathname;
    const processLines = (p: ReturnType<typeof serve>) => logLines(p).filter((l) => l.component === 'process');
    const rejecting = serve(['--config', config], { ...env, TELEQL_TEST_FAULT: 'reject' }, ['--import', fault]);
    try {
      await untilReady(rejecting, graphql);
      const first = await sendTrace('http-proto', endpoints, { service: 'defect-svc' });
      rejecting.child.kill('SIGUSR2');
      await waitFor(async () => processLines(rejecting), (lines) => lines.length === 1, 'the rejection logged');
      const [line] = processLines(rejecting) as [{ level: number; msg: string; err: { message: string } }];
      assert.deepEqual([line.level, line.err.message], [50, 'injected rejection']);
      assert.match(line.msg, /rejected with no handler .*still serving/);
      assert.equal(rejecting.child.exitCode, null, 'still running');
      assert.equal((await gqlData<{ __typename: string }>(graphqlUrl, '{ __typename }')).__typename, 'Query');
      rejecting.child.kill('SIGTERM');
      assert.equal(await rejecting.exited, 0, rejecting.output());

      const throwing = serve(['--config', config], { ...env, TELEQL_TEST_FAULT: 'throw' }, ['--import', fault]);
      try {
        await untilReady(throwing, graphql);
        const second = await sendTrace('http-proto', endpoints, { service: 'defect-svc' });
        throwing.child.kill('SIGUSR2');
        assert.equal(await throwing.exited, 1, throwing.output());
        const [fatal] = processLines(throwing) as [{ level: number; err: { message: string } }];
        assert.deepEqual([fatal.level, fatal.err.message], [60, 'injected exception']);
        assert.match(throwing.output(), /"msg":"stopped"/);

        const again = serve(['--config', config], env);
        try {
          await untilReady(again, graphql);
          for (const sent of [first, second]) {
            const stored = await gqlData<{ trace: { spanCount: number } | null }>(graphqlUrl, `{ trace(traceId: "${sent.traceId}") { spanCount } }`);
            assert.equal(stored.trace?.spanCount, 2, 'the spans acknowledged before the fault were written');
          }
        } finally {
          again.child.kill('SIGTERM');
          await again.exited;
        }
      } finally {
        if (throwing.child.exitCode === null) throwing.child.kill('SIGKILL');
      }
    } finally {
      if (rejecting.child.exitCode === null) rejecting.child.kill('SIGKILL');
    }
  }));

test('SIGHUP reloads the rules file and keeps serving, as for the Collector and Prometheus: what was acknowledged is kept', async () => {
  // Node exits at once on SIGHUP by default: `kill -HUP` (or a closed terminal) lost every span
  // still queued for DuckDB.
  await withServeSetup(async ({ dir, config, grpc, http, graphql, env }) => {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules: []\n');
    writeFileSync(config, `processors:\n  batch:\n    timeoutMs: 600000\n    sendBatchSize: 1000000\nstorage:\n  duckdb:\n    path: ${join(dir, 'teleql.duckdb')}\nalerting:\n  rulesFile: ${rules}\n`);
    const graphqlUrl = `http://127.0.0.1:${graphql}/graphql`;
    const gw = serve(['--config', config], env);
    try {
      await untilReady(gw, graphql);
      const sent = await sendTrace('http-proto', { otlpGrpc: `127.0.0.1:${grpc}`, otlpHttp: `http://127.0.0.1:${http}` }, { service: 'hup-svc' });
      gw.child.kill('SIGHUP');
      await waitFor(async () => gw.output(), (out) => out.includes('reloaded the API keys, the TLS files and the alert rules file'), 'the reload logged');
      const line = JSON.parse(gw.output().split('\n').find((l) => l.includes('reloaded the API keys'))!) as { apiKeys: unknown; tls: string; rulesFile: string };
      assert.deepEqual({ apiKeys: line.apiKeys, tls: line.tls, rulesFile: line.rulesFile }, { apiKeys: 'unchanged', tls: 'off', rulesFile: 'loaded' });
      assert.equal(gw.child.exitCode, null, 'still running');
      assert.equal((await gqlData<{ __typename: string }>(graphqlUrl, '{ __typename }')).__typename, 'Query');
      gw.child.kill('SIGTERM');
      assert.equal(await gw.exited, 0, gw.output());
      const again = serve(['--config', config], env);
      try {
        await untilReady(again, graphql);
        const stored = await gqlData<{ trace: { spanCount: number } | null }>(graphqlUrl, `{ trace(traceId: "${sent.traceId}") { spanCount } }`);
        assert.equal(stored.trace?.spanCount, 2, 'the spans acknowledged before the SIGHUP were written');
      } finally {
        again.child.kill('SIGTERM');
        await again.exited;
      }
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    }
  });
});

test('a SIGHUP while serve is still loading its modules is ignored, not fatal: the gateway starts', () =>
  // Node's default for SIGHUP is to exit (129): a reload sent right after a (re)start killed the
  // gateway in its first ~0.5 s. The loading is held 2 s here (test/fixtures/cli, as for tail's signals).
  withServeSetup(async ({ dir, config, graphql, env }) => {
    writeFileSync(config, `storage:\n  duckdb:\n    path: ${join(dir, 'teleql.duckdb')}\n`);
    const slowLoad = new URL('../fixtures/cli/slow-load.mjs', import.meta.url).pathname;
    const gw = serve(['--config', config], { ...env, TELEQL_FROM_SOURCE: '1' }, ['--import', slowLoad]);
    try {
      await waitFor(async () => gw.output(), (out) => out.includes('loading'), 'the command loading', 60_000);
      gw.child.kill('SIGHUP');
      await untilReady(gw, graphql);
      assert.equal(gw.child.exitCode, null, 'still running');
      gw.child.kill('SIGHUP');
      await waitFor(async () => gw.output(), (out) => out.includes('"msg":"reloaded the API keys'), 'a SIGHUP once running reloads');
      gw.child.kill('SIGTERM');
      assert.equal(await gw.exited, 0, gw.output());
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    }
  }));

test('SIGHUP applies the API keys of the config file: an added key is accepted and a removed one refused, its graphql-ws connections closed, without a restart; a config that does not load changes nothing', () =>
  withServeSetup(async ({ dir, config, graphql, env }) => {
    const [oldKey, newKey, steadyKey] = ['rotate-old-0123456789abcdef', 'rotate-new-0123456789abcdef', 'rotate-steady-0123456789abcdef'];
    const keyLine = (name: string, key: string) => `    - { name: ${name}, hash: "${hashApiKey(key)}", tenant: rotating, scopes: [query] }\n`;
    const writeConfig = (keys: string) => writeFileSync(config, `auth:\n  mode: apiKey\n  metrics: open\n  apiKeys:\n${keys}storage:\n  duckdb:\n    path: ${join(dir, 'teleql.duckdb')}\n`);
    writeConfig(keyLine('old', oldKey) + keyLine('steady', steadyKey));
    const status = (key: string) =>
      fetch(`http://127.0.0.1:${graphql}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{"query":"{ services }"}' }).then((r) => r.status);
    const gw = serve(['--config', config], env);
    // The summary line every SIGHUP ends with (a warning when something was refused).
    const reloads = () => gw.output().split('\n').filter((l) => l.includes('"apiKeys":')).length;
    try {
      await untilReady(gw, graphql);
      assert.deepEqual([await status(oldKey), await status(newKey)], [200, 401]);
      // A graphql-ws connection of each key still in use: the removed key's is closed, the other's stays.
      const ws = (key: string) => {
        let closedWith: number | undefined;
        let up!: () => void;
        const connected = new Promise<void>((resolve) => (up = resolve));
        const client = createClient({
          url: `ws://127.0.0.1:${graphql}/graphql`,
          webSocketImpl: WebSocket,
          connectionParams: { Authorization: `Bearer ${key}` },
          retryAttempts: 0,
          lazy: false,
          onNonLazyError: () => {},
          on: { connected: () => up(), closed: (e) => void (closedWith = (e as { code: number }).code) },
        });
        return { client, connected, closedWith: () => closedWith };
      };
      const [revokedWs, steadyWs] = [ws(oldKey), ws(steadyKey)];
      await Promise.all([revokedWs.connected, steadyWs.connected]);

      writeConfig(keyLine('new', newKey) + keyLine('steady', steadyKey));
      gw.child.kill('SIGHUP');
      await waitFor(async () => reloads(), (n) => n === 1, 'the reload logged');
      assert.deepEqual([await status(oldKey), await status(newKey), await status(steadyKey)], [401, 200, 200]);
      await waitFor(async () => revokedWs.closedWith(), (code) => code === 4401, "the removed key's connection closed");
      const answer = await new Promise<unknown>((resolve, reject) => steadyWs.client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => {} }));
      assert.deepEqual(answer, { data: { __typename: 'Query' } }, "the unchanged key's connection still answers");
      assert.equal(steadyWs.closedWith(), undefined);
      await Promise.all([revokedWs.client.dispose(), steadyWs.client.dispose()]);

      writeFileSync(config, 'auth: [not, a, mapping\n');
      gw.child.kill('SIGHUP');
      await waitFor(async () => reloads(), (n) => n === 2, 'the second reload logged');
      assert.match(gw.output(), /"msg":"the config does not load or would not start \(err says why\); nothing from it was applied"/);
      // The summary said "reloaded the API keys" at info level though they were refused.
      const summary = JSON.parse(gw.output().split('\n').filter((l) => l.includes('"apiKeys":')).at(-1)!) as { level: number; apiKeys: string; msg: string };
      assert.deepEqual([summary.level, summary.apiKeys], [40, 'refused']);
      assert.match(summary.msg, /^reload: the config \(its API keys\) refused, the previous ones stay in force/);
      assert.deepEqual([await status(oldKey), await status(newKey)], [401, 200], 'the keys in force stay');
      const metrics = await (await fetch(`http://127.0.0.1:${graphql}/metrics`)).text();
      assert.match(metrics, /^teleql_config_reloads_total\{result="ok"\} 1$/m);
      assert.match(metrics, /^teleql_config_reloads_total\{result="failed"\} 1$/m);
      assert.match(metrics, /^teleql_config_last_reload_successful 0$/m);

      // Files that load but would not start (a component's key, an alerting value) are failed reloads
      // too, with the reason: they counted as ok, and the next restart exited 2.
      const keys = keyLine('new', newKey);
      for (const [extra, reason] of [
        ['processors:\n  batch:\n    sendBatchSiz: 10\n', /processors\.batch: unknown key \\"sendBatchSiz\\"/],
        ['alerting:\n  defaultInterval: 5x\n', /alerting\.defaultInterval: expected a duration/],
      ] as const) {
        writeConfig(keys);
        writeFileSync(config, `${readFileSync(config, 'utf8')}${extra}`);
        const before = gw.output().split('\n').filter((l) => l.includes('the config does not load or would not start')).length;
        gw.child.kill('SIGHUP');
        await waitFor(async () => gw.output().split('\n').filter((l) => l.includes('the config does not load or would not start')).length, (n) => n === before + 1, 'the refused reload logged');
        assert.match(gw.output(), reason);
      }
      const after = await (await fetch(`http://127.0.0.1:${graphql}/metrics`)).text();
      assert.match(after, /^teleql_config_reloads_total\{result="failed"\} 3$/m);
      assert.match(after, /^teleql_config_last_reload_successful 0$/m);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  }));

test('SIGTERM with TELEQL_SHUTDOWN_DRAIN_MS: /readyz answers 503 while OTLP is still acknowledged, then the process flushes and exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-serve-'));
  try {
    const [grpc, http, graphql] = [await freePort(), await freePort(), await freePort()];
    const env = {
      TELEQL_OTLP_GRPC_PORT: String(grpc),
      TELEQL_OTLP_HTTP_PORT: String(http),
      TELEQL_GRAPHQL_PORT: String(graphql),
      TELEQL_LOG_LEVEL: 'info',
      TELEQL_SHUTDOWN_DRAIN_MS: '3000',
    };
    const readyz = () => fetch(`http://127.0.0.1:${graphql}/readyz`).then((r) => r.status);
    const p = serve(['--data', join(dir, 'teleql.duckdb')], env);
    try {
      await waitFor(readyz, (s) => s === 200, 'readiness', 20_000);
      p.child.kill('SIGTERM');
      await waitFor(readyz, (s) => s === 503, 'readiness to fail after SIGTERM', 2_000);
      // Still accepted: a load balancer that has not yet seen the failing probe keeps sending.
      await sendTrace('http-proto', { otlpGrpc: `127.0.0.1:${grpc}`, otlpHttp: `http://127.0.0.1:${http}` }, { service: 'drain-svc' });
      assert.equal(await p.exited, 0, p.output());
      assert.match(p.output(), /"drainMs":3000,.*"msg":"draining: \/readyz answers 503/);
      assert.match(p.output(), /"msg":"stopped"/);
    } finally {
      p.child.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a misspelled config key stops start-up with exit code 2 and names the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-serve-'));
  try {
    const config = join(dir, 'teleql.yaml');
    writeFileSync(config, 'graphql:\n  prot: 4000\n');
    const p = serve(['--config', config], {});
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /graphql: unknown key "prot"/);

    writeFileSync(config, 'receivers:\n  otlp:\n    grpc:\n      prot: 1\n');
    const q = serve(['--config', config, '--data', ':memory:'], { TELEQL_GRAPHQL_PORT: '0' });
    assert.notEqual(await q.exited, 0);
    assert.match(q.output(), /prot/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store that cannot open stops start-up with exit code 1 and its reason, though the receivers listened first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-serve-'));
  try {
    const notADatabase = join(dir, 'teleql.duckdb');
    writeFileSync(notADatabase, 'this is not a DuckDB file\n'.repeat(200));
    const [graphqlPort, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const p = serve(['--data', notADatabase], {
      TELEQL_GRAPHQL_PORT: String(graphqlPort),
      TELEQL_OTLP_GRPC_PORT: String(grpcPort),
      TELEQL_OTLP_HTTP_PORT: String(httpPort),
      TELEQL_LOG_LEVEL: 'info',
    });
    assert.equal(await p.exited, 1);
    // One plain line on stderr, as a config error (it was the line, a stack trace and the error object's fields).
    const failure = p.output().split('\n').filter((l) => !l.startsWith('{') && l.trim() !== '');
    assert.equal(failure.length, 1, failure.join('\n'));
    assert.match(failure[0]!, /^teleql: failed to start: .*teleql\.duckdb/, 'the error names the file');
    // The store opens while the receivers already listen: the process must still not keep serving.
    assert.match(p.output(), /"msg":"accepting OTLP"/);
    assert.doesNotMatch(p.output(), /"msg":"ready"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tail clients that reset their connection mid-replay: the log stays JSON lines, their subscriptions are freed, the gateway keeps serving', async () => {
  const [graphqlPort, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const p = serve(['--data', ':memory:'], {
    TELEQL_GRAPHQL_PORT: String(graphqlPort),
    TELEQL_OTLP_GRPC_PORT: String(grpcPort),
    TELEQL_OTLP_HTTP_PORT: String(httpPort),
    TELEQL_LOG_LEVEL: 'debug',
  });
  try {
    const base = `http://127.0.0.1:${graphqlPort}`;
    await waitFor(() => fetch(`${base}/readyz`).then((r) => r.status), (s) => s === 200, 'readiness', 20_000);
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spansJson(Array.from({ length: 2_000 }, (_, i) => ({ service: 'reset-svc', name: `op-${i}`, attributes: { pad: 'x'.repeat(1_000) } })))),
    });
    assert.equal(res.status, 200);
    const stored = `{ spans(first: 1, filter: { service: ["reset-svc"], from: "now-1h" }) { edges { node { name } } } }`;
    await waitFor(() => gqlData<{ spans: { edges: unknown[] } }>(`${base}/graphql`, stored), (d) => d.spans.edges.length === 1, 'the spans stored', 20_000);
    // Each client resets its TCP connection (RST) once the replay has started streaming to it, so
    // the gateway's writes to it may fail (EPIPE / ECONNRESET): graphql-ws' own ws adapter printed
    // a stack trace to stderr when one of its messages did (how often depends on timing; the unit
    // test test/unit/server/graphql-ws-socket.test.ts makes it happen every time).
    for (let i = 0; i < 8; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${graphqlPort}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      await new Promise((resolve) => ws.once('message', resolve));
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription { tailSpans(filter: { service: ["reset-svc"] }, since: "now-1h") { span { name attributes } } }` } }));
      const first = JSON.parse(String(await new Promise((resolve) => ws.once('message', resolve)))) as { type: string };
      assert.equal(first.type, 'next');
      (ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
    }
    const subscriptions = async () => Number(/^teleql_tail_subscriptions (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    await waitFor(subscriptions, (n) => n === 0, 'no tail subscriptions left', 20_000);
    const after = await gqlData<{ spans: { edges: unknown[] } }>(`${base}/graphql`, stored);
    assert.equal(after.spans.edges.length, 1, 'still serving queries');
    const notJson = p.output().split('\n').filter((line) => line !== '' && !line.startsWith('{'));
    assert.deepEqual(notJson, [], 'every line of output is a JSON log line');
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});
