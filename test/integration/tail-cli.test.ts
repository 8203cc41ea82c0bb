// `teleql tail`: the real CLI (bin/teleql.js) spawned against a real gateway; its stdout lines are
// what is asserted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { hex, logsBody, nowNs, postOtlp, spansBody, subscriptions } from '../helpers/tail-client.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-keys.ts';
import { makePki } from '../helpers/pki.ts';
import { freePort } from '../helpers/free-port.ts';

interface Cli {
  proc: ChildProcess;
  lines: string[];
  stderr: () => string;
  exit: Promise<number | null>;
}

function cli(args: string[], env: Record<string, string> = {}): Cli {
  const proc = spawn(process.execPath, ['bin/teleql.js', 'tail', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  exit.catch(() => {});
  return { proc, lines, stderr: () => err, exit };
}

/** Waits for `c` to have printed `n` lines; a timeout says what the command wrote on stderr and whether it ended. */
async function printed(c: Cli, n: number, what: string, timeoutMs = 15_000): Promise<void> {
  try {
    await waitFor(async () => c.lines.length, (k) => k >= n, what, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; exit code: ${c.proc.exitCode}; stderr: ${JSON.stringify(c.stderr())}`);
  }
}

describe('teleql tail', () => {
  let gw: TestGateway;
  const running: Cli[] = [];
  const start = (args: string[], env?: Record<string, string>) => {
    const c = cli(['--url', gw.graphqlUrl, ...args], env);
    running.push(c);
    return c;
  };

  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    for (const c of running) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await gw?.stop();
  });

  test('--json prints one JSON object per matching span and log record, filtered by the flags, and Ctrl-C exits 0', async () => {
    const c = start(['spans', 'logs', '--tenant', 'cli-json', '--json', '--service', 'cli-checkout', '--attr', 'db.system=postgresql', '--status', 'ERROR']);
    await subscriptions(gw, 2, 60_000); // spans and logs (the CLI starts slowly on a busy machine)
    const s = await sendTrace('http-proto', gw, { service: 'cli-checkout', headers: { 'x-scope-orgid': 'cli-json' } });
    await sendTrace('grpc', gw, { service: 'cli-checkout', headers: { 'x-scope-orgid': 'cli-elsewhere' } });
    // Logs match the service and attribute; --status applies to spans only.
    await postOtlp(gw, '/v1/logs', logsBody('cli-checkout', [{ timeNs: nowNs(), body: 'pool exhausted', severityNumber: 17, attributes: { 'db.system': 'postgresql' } }]), 'cli-json');
    await postOtlp(gw, '/v1/logs', logsBody('cli-checkout', [{ timeNs: nowNs(), body: 'other db', attributes: { 'db.system': 'mysql' } }]), 'cli-json');
    await printed(c, 2, 'two lines');
    await new Promise((r) => setTimeout(r, 300));
    const objs = c.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(objs.length, 2, c.lines.join('\n'));
    const span = objs.find((o) => o.type === 'span')!;
    assert.equal(span.traceId, s.traceId);
    assert.equal(span.spanId, s.childSpanId);
    assert.equal(span.name, 'SELECT orders');
    assert.equal(span.service, 'cli-checkout');
    assert.deepEqual(span.status, { code: 'ERROR', message: 'db timeout' });
    assert.equal((span.attributes as Record<string, unknown>)['db.rows'], 17);
    assert.equal(span.dropped, 0);
    assert.equal(span.replayed, false);
    // Every field of the record (the docs say "everything whole"); it had only the ones a line shows.
    assert.equal(span.parentSpanId, s.rootSpanId);
    assert.equal(span.kind, 'CLIENT');
    assert.match(String(span.endTime), /^\d{4}-\d\d-\d\dT[\d:.]{18}Z$/);
    assert.match(String(span.durationNano), /^\d+$/);
    assert.equal(typeof span.traceState, 'string');
    assert.equal(typeof span.flags, 'number');
    assert.deepEqual((span.resource as { attributes: Record<string, unknown> }).attributes, { 'service.name': 'cli-checkout', 'service.version': '1.4.2', 'telemetry.source': 'claude', 'host.cpu.count': 8 });
    assert.deepEqual((({ name, version }) => ({ name, version }))(span.scope as { name: string; version: string }), { name: 'teleql-test-scope', version: '0.9.1' });
    assert.deepEqual((span.events as { name: string; attributes: unknown }[]).map((e) => [e.name, e.attributes]), [['exception', { 'exception.type': 'TimeoutError', 'exception.message': 'query timed out after 5000 ms' }]]);
    assert.deepEqual((span.links as { traceId: string; attributes: unknown }[]).map((l) => [l.traceId, l.attributes]), [[s.linkedTraceId, { 'link.reason': 'follows', 'link.count': 3 }]]);
    for (const k of ['droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount']) assert.equal(span[k], 0, k);
    const log = objs.find((o) => o.type === 'log')!;
    assert.equal(log.bodyText, 'pool exhausted');
    assert.equal(log.severity, 'ERROR');
    assert.match(String(log.id), /^tail:[\w-]{8}:\d+$/);
    assert.equal(log.observedTime, log.time);
    assert.equal(log.flags, 0);
    assert.deepEqual((log.resource as { attributes: unknown }).attributes, { 'service.name': 'cli-checkout' });
    assert.deepEqual((log.scope as { name: string }).name, 'tail-test');

    c.proc.kill('SIGINT');
    assert.equal(await c.exit, 0);
    await subscriptions(gw, 0);
  });

  test('without --json it prints one readable line per record, without colour when stdout is not a terminal', async () => {
    const c = start(['spans', '--tenant', 'cli-text', '--min-duration', '5ms']);
    await subscriptions(gw, 1, 60_000);
    const now = nowNs();
    await postOtlp(
      gw,
      '/v1/traces',
      spansBody('cli-text-svc', [
        { traceId: hex(1, 32), spanId: hex(1, 16), name: 'GET /slow', startNs: now, durationNs: 12_500_000n, status: 2, attributes: { 'http.route': '/slow' } },
        { traceId: hex(1, 32), spanId: hex(2, 16), parentSpanId: hex(1, 16), name: 'fast', startNs: now, durationNs: 1_000_000n },
      ]),
      'cli-text',
    );
    await printed(c, 1, 'a line');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.lines.length, 1, c.lines.join('\n'));
    const line = c.lines[0]!;
    assert.ok(!line.includes('\u001b['), 'no ANSI escapes into a pipe');
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z cli-text-svc GET \/slow 12\.5ms ERROR trace=0{31}1 span=0{15}1 http\.route=\/slow$/);
    c.proc.kill('SIGTERM');
    assert.equal(await c.exit, 0);
    await subscriptions(gw, 0);
  });

  test('telemetry cannot write control sequences to the terminal or break a record over lines', async () => {
    // A span's service, name and status message and a log's attribute key were printed raw: ESC
    // sequences (clear screen, window title, cursor moves) reached the terminal, and a line break
    // made one record look like two.
    const tenant = 'cli-evil';
    const c = start(['--tenant', tenant]);
    await subscriptions(gw, 2, 60_000);
    const evil = 'a\u001b[2J\u001b]0;PWNED\u0007\rFAKE\nLINE\u009b31m\u202e';
    const shown = 'a\\x1b[2J\\x1b]0;PWNED\\x07 ⏎ FAKE ⏎ LINE\\x9b31m\\u202e';
    await postOtlp(gw, '/v1/traces', spansBody(evil, [{ traceId: hex(3, 32), spanId: hex(3, 16), name: evil, startNs: nowNs(), status: 2, attributes: { [evil]: 'v' } }]), tenant);
    await printed(c, 1, 'the span line');
    await postOtlp(gw, '/v1/logs', logsBody(evil, [{ timeNs: nowNs(), body: evil, attributes: { [evil]: evil } }]), tenant);
    await printed(c, 2, 'the log line');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.lines.length, 2, c.lines.join('\n---\n'));
    for (const line of c.lines) {
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/, JSON.stringify(line)); // eslint-disable-line no-control-regex
      assert.ok(line.includes(`${shown} ${shown}`), line); // the service, then the span name or the log body
      assert.ok(line.includes(` ${shown}=`), line); // an attribute key
    }
    c.proc.kill('SIGINT');
    assert.equal(await c.exit, 0);
    await subscriptions(gw, 0);
  });

  test('a write error on stdout other than EPIPE (a full disk) ends the command with one line and 1', async () => {
    // It threw from the stream's error listener: a stack trace.
    const tenant = 'cli-full';
    const full = openSync('/dev/full', 'w');
    const proc = spawn(process.execPath, ['bin/teleql.js', 'tail', 'logs', '--url', gw.graphqlUrl, '--tenant', tenant], { stdio: ['ignore', full, 'pipe'] });
    closeSync(full);
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    running.push({ proc, lines: [], stderr: () => err, exit });
    await subscriptions(gw, 1, 60_000);
    await postOtlp(gw, '/v1/logs', logsBody('full-svc', [{ timeNs: nowNs(), body: 'no room', severityNumber: 9 }]), tenant);
    assert.equal(await exit, 1);
    assert.equal(err, 'teleql tail: cannot write to stdout: ENOSPC: no space left on device, write\n');
    // The next test counts subscriptions: this one's must be gone first (the gateway frees it when it sees the close).
    await subscriptions(gw, 0);
  });

  test('--since replays stored log records before the live ones', async () => {
    const tenant = 'cli-since';
    const t0 = nowNs() - 5_000_000_000n;
    await postOtlp(gw, '/v1/logs', logsBody('since-svc', [{ timeNs: t0, body: 'earlier', severityNumber: 13 }, { timeNs: t0, body: 'too quiet', severityNumber: 9 }]), tenant);
    await waitFor(
      async () => (await gw.app.internals.store()!.logs.searchLogs(tenant, { timeRange: { from: 0n } }, { first: 10 })).items.length,
      (n) => n === 2,
      'the stored logs',
    );
    const c = start(['logs', '--tenant', tenant, '--json', '--since', '1m', '--severity', 'warn']);
    await printed(c, 1, 'the replayed line', 60_000);
    await postOtlp(gw, '/v1/logs', logsBody('since-svc', [{ timeNs: nowNs(), body: 'now', severityNumber: 17 }]), tenant);
    await printed(c, 2, 'the live line');
    const objs = c.lines.map((l) => JSON.parse(l) as { bodyText: string; replayed: boolean });
    assert.deepEqual(objs.map((o) => [o.bodyText, o.replayed]), [['earlier', true], ['now', false]]);
    c.proc.kill('SIGINT');
    assert.equal(await c.exit, 0);
    await subscriptions(gw, 0);
  });

  test('a reader that goes away (`| head -1`) ends the command quietly with 0', async () => {
    // It crashed with an unhandled EPIPE stack trace.
    const tenant = 'cli-pipe';
    const c = start(['logs', '--tenant', tenant, '--json']);
    await subscriptions(gw, 1, 60_000);
    await postOtlp(gw, '/v1/logs', logsBody('pipe-svc', [{ timeNs: nowNs(), body: 'first', severityNumber: 9 }]), tenant);
    await printed(c, 1, 'the first line');
    c.proc.stdout!.destroy();
    await postOtlp(gw, '/v1/logs', logsBody('pipe-svc', [{ timeNs: nowNs(), body: 'second', severityNumber: 9 }]), tenant);
    assert.equal(await c.exit, 0);
    assert.doesNotMatch(c.stderr(), /EPIPE|Error/);
    await subscriptions(gw, 0);
  });

  // Issue 5 QA, session 35: the flags reached only part of the filter (no kind, maxDuration,
  // traceId, bodyContains, attribute operators other than equality, or and/or/not).
  test('every filter field is reachable: --kind, --max-duration, --attr operators, --filter for and/or/not', async () => {
    const tenant = 'cli-ops';
    const c = start([
      'spans', '--tenant', tenant, '--json', '--kind', 'server', '--max-duration', '50ms',
      '--attr', 'user.id?', '--attr', 'http.route!=/skip', '--filter', '{"or":[{"name":["GET /a"]},{"name":["GET /b"]}]}',
    ]);
    await subscriptions(gw, 1, 60_000);
    const now = nowNs();
    const ok = { 'user.id': 'u1', 'http.route': '/r' };
    await postOtlp(
      gw,
      '/v1/traces',
      spansBody('cli-ops-svc', [
        { traceId: hex(7, 32), spanId: hex(1, 16), name: 'GET /a', startNs: now, attributes: ok },
        { traceId: hex(7, 32), spanId: hex(2, 16), name: 'GET /a', startNs: now, durationNs: 100_000_000n, attributes: ok }, // too long
        { traceId: hex(7, 32), spanId: hex(3, 16), name: 'GET /b', startNs: now, attributes: { 'http.route': '/r' } }, // no user.id
        { traceId: hex(7, 32), spanId: hex(4, 16), name: 'GET /b', startNs: now, attributes: { ...ok, 'http.route': '/skip' } },
        { traceId: hex(7, 32), spanId: hex(5, 16), name: 'GET /c', startNs: now, attributes: ok }, // neither name
        { traceId: hex(7, 32), spanId: hex(6, 16), name: 'GET /b', startNs: now, attributes: ok },
      ]),
      tenant,
    );
    await printed(c, 2, 'the two matching spans');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(c.lines.map((l) => (JSON.parse(l) as { spanId: string }).spanId), [hex(1, 16), hex(6, 16)]);
    c.proc.kill('SIGINT');
    assert.equal(await c.exit, 0);
    await subscriptions(gw, 0);

    for (const [args, message] of [
      [['--attr', 'code>=abc'], /--attr "code>=abc": >= needs a number/],
      [['--kind', 'server-ish'], /--kind "SERVER-ISH": expected SERVER, CLIENT/],
      [['--filter', '{not json'], /--filter: not JSON/],
      [['--service', 'a', '--filter', '{"service":["b"]}'], /--filter sets "service", which a flag sets too/],
      [['logs', '--max-duration', '1s'], /apply to spans, which are not tailed/],
    ] as const) {
      const usage = start([...args]);
      assert.equal(await usage.exit, 2, args.join(' '));
      assert.match(usage.stderr(), message);
    }
  });

  test('a filter the gateway rejects ends the command with its error code; a bad flag prints the usage', async () => {
    const bad = start(['spans', '--tenant', 'cli-bad', ...Array.from({ length: 1001 }, (_, i) => ['--service', `s${i}`]).flat()]);
    assert.equal(await bad.exit, 1);
    assert.match(bad.stderr(), /^teleql tail: filter.service: has 1001 values; a filter list may have at most 1000 \(GW_BAD_FILTER\)\n$/);

    const usage = start(['--severity', 'loud']);
    assert.equal(await usage.exit, 2);
    assert.match(usage.stderr(), /--severity "loud": expected TRACE\|DEBUG\|INFO\|WARN\|ERROR\|FATAL/);
    assert.match(usage.stderr(), /usage: teleql tail/);

    const down = cli(['--url', 'http://127.0.0.1:1/graphql', '--tenant', 'x']);
    running.push(down);
    assert.equal(await down.exit, 1);
    assert.match(down.stderr(), /teleql tail: (cannot connect to|connection to) ws:\/\/127\.0\.0\.1:1\/graphql/);
  });
});

describe('teleql tail across a gateway restart', () => {
  const running: Cli[] = [];
  let gw: TestGateway | undefined;
  after(async () => {
    for (const c of running) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await gw?.stop();
  });

  test('once connected, it reconnects after the gateway restarts and says on stderr what it missed; --no-reconnect ends with 1', async () => {
    // It ended with "connection … closed (1001: Going away)": every restart or deploy killed the tails.
    const port = await freePort();
    const tenant = 'cli-restart';
    gw = await startGateway({ graphql: { port } });
    const c = cli(['logs', '--url', `http://127.0.0.1:${port}/graphql`, '--tenant', tenant, '--json']);
    const once = cli(['logs', '--url', `http://127.0.0.1:${port}/graphql`, '--tenant', tenant, '--json', '--no-reconnect']);
    running.push(c, once);
    await subscriptions(gw, 2, 60_000);
    await postOtlp(gw, '/v1/logs', logsBody('restart-svc', [{ timeNs: nowNs(), body: 'before', severityNumber: 9 }]), tenant);
    await waitFor(async () => c.lines.length + once.lines.length, (n) => n === 2, 'the first line on both', 15_000);

    await gw.stop();
    assert.equal(await once.exit, 1);
    assert.match(once.stderr(), /teleql tail: connection to ws:.* closed \(1001: Going away\)\n$/);
    await waitFor(async () => c.stderr(), (e) => /closed \(1001: Going away\); reconnecting \(Ctrl-C to stop\)/.test(e), 'the reconnecting line', 15_000);
    assert.equal(c.proc.exitCode, null, 'still running while the gateway is down');

    gw = await startGateway({ graphql: { port } });
    await subscriptions(gw, 1, 60_000);
    assert.match(c.stderr(), /reconnected to ws:.*; records ingested while disconnected are not shown/);
    await postOtlp(gw, '/v1/logs', logsBody('restart-svc', [{ timeNs: nowNs(), body: 'after', severityNumber: 9 }]), tenant);
    await waitFor(async () => c.lines.length, (n) => n === 2, 'the line after the restart', 15_000);
    assert.deepEqual(c.lines.map((l) => (JSON.parse(l) as { bodyText: string }).bodyText), ['before', 'after']);

    // And again: each loss is said once, each return too.
    await gw.stop();
    await waitFor(async () => c.stderr().match(/reconnecting \(Ctrl-C to stop\)/g)?.length ?? 0, (n) => n === 2, 'the second reconnecting line', 15_000);
    gw = await startGateway({ graphql: { port } });
    await subscriptions(gw, 1, 60_000);
    await postOtlp(gw, '/v1/logs', logsBody('restart-svc', [{ timeNs: nowNs(), body: 'again', severityNumber: 9 }]), tenant);
    await waitFor(async () => c.lines.length, (n) => n === 3, 'the line after the second restart', 15_000);
    assert.equal(c.stderr().match(/reconnected to /g)?.length, 2);
    c.proc.kill('SIGINT');
    assert.equal(await c.exit, 0);
  });
});

describe('teleql tail against a gateway with TLS and API keys', () => {
  const KEY = 'tail-cli-key-0123456789abcdef';
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let gw: TestGateway;
  const running: Cli[] = [];
  const https_ = (url: string) => url.replace('http:', 'https:');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teleql-tail-tls-'));
    pki = makePki(dir);
    gw = await startGateway({
      auth: { mode: 'apiKey', apiKeys: [{ name: 'cli', hash: hashApiKey(KEY), tenant: 'cli-tls', scopes: ['ingest', 'query'] }] },
      tls: { certFile: pki.file('server.crt'), keyFile: pki.file('server.key') },
    });
  });
  after(async () => {
    for (const c of running) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--ca trusts a private CA and TELEQL_TOKEN is sent as the bearer credential; without either it exits 1 saying why', async () => {
    // The token comes from the environment (not the command line, where `ps` shows it); NODE_EXTRA_CA_CERTS is cleared so only --ca can make the CA trusted.
    const env = { TELEQL_URL: https_(gw.graphqlUrl), TELEQL_TOKEN: KEY, NODE_EXTRA_CA_CERTS: '' };
    const c = cli(['spans', '--json', '--ca', pki.file('ca.crt')], env);
    running.push(c);
    await subscriptions(gw, 1, 60_000);
    const body = JSON.stringify(spansBody('cli-tls-svc', [{ traceId: hex(7, 32), spanId: hex(7, 16), name: 'over-tls', startNs: nowNs() }]));
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${https_(gw.otlpHttp)}/v1/traces`, { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` } }, (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 200);
    await printed(c, 1, 'the span over wss');
    assert.deepEqual((({ type, name, service }) => ({ type, name, service }))(JSON.parse(c.lines[0]!) as Record<string, unknown>), { type: 'span', name: 'over-tls', service: 'cli-tls-svc' });
    c.proc.kill('SIGINT');
    assert.equal(await c.exit, 0);

    const untrusted = cli(['spans'], { ...env });
    running.push(untrusted);
    assert.equal(await untrusted.exit, 1);
    assert.match(untrusted.stderr(), /teleql tail: cannot connect to wss:.*: unable to verify the first certificate/);

    const noToken = cli(['spans', '--ca', pki.file('ca.crt')], { ...env, TELEQL_TOKEN: '' });
    running.push(noToken);
    assert.equal(await noToken.exit, 1);
    // The close reason is all the gateway says of a refused credential; the command says what to do.
    assert.match(noToken.stderr(), /teleql tail: connection to wss:.* closed \(4401: GW_UNAUTHENTICATED: missing or invalid credentials\); set TELEQL_TOKEN \(or --header "Authorization: Bearer …"\) to an API key or JWT the gateway accepts\n$/);

    const missingCa = cli(['spans', '--ca', join(dir, 'nope.crt')], env);
    running.push(missingCa);
    assert.equal(await missingCa.exit, 2);
    assert.match(missingCa.stderr(), /--ca ".*nope\.crt": cannot read it \(ENOENT\)/);
  });
});
