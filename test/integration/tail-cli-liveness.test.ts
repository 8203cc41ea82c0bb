// `teleql tail` against gateways that hang or fall silent, over real sockets: a TCP listener that
// never answers, and small graphql-ws servers that take the connection and then stop answering
// (what a frozen host or a lost network path looks like from the client). The command runs in this
// process with short waits (TailTiming), or as the real CLI where signals are what is tested.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { runTail, TAIL_TIMING, type TailTiming } from '../../src/cli/tail.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { logsBody, nowNs, postOtlp, subscriptions } from '../helpers/tail-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

interface Peer {
  url: string;
  /** Connections taken so far. */
  connections: () => number;
  close(): Promise<void>;
}

/** A TCP listener that takes connections and never answers: a hung gateway, a proxy with no backend. */
async function blackHole(): Promise<Peer> {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    connections: () => sockets.length,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * How one connection of a fake gateway behaves: `no-ack` upgrades and never answers; `ack` acks and
 * answers pings; `no-pong` acks and then answers nothing; `going-away` acks and closes with 1001 once
 * a subscription arrives; `event-error` sends that subscription an event with only an error, then
 * goes away.
 */
type Behaviour = 'no-ack' | 'ack' | 'no-pong' | 'going-away' | 'event-error';

/** A graphql-ws server whose n-th connection behaves as `behaviours[n]` (the last one for the rest). */
async function fakeGateway(behaviours: Behaviour[]): Promise<Peer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  let n = 0;
  wss.on('connection', (ws: WebSocket) => {
    const behaviour = behaviours[Math.min(n++, behaviours.length - 1)]!;
    const send = (m: unknown) => ws.send(JSON.stringify(m));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; id?: string };
      if (behaviour === 'no-ack') return;
      if (m.type === 'connection_init') return send({ type: 'connection_ack' });
      if (behaviour === 'no-pong') return;
      if (m.type === 'ping') return send({ type: 'pong' });
      if (m.type !== 'subscribe') return;
      if (behaviour === 'event-error') send({ id: m.id, type: 'next', payload: { data: null, errors: [{ message: 'boom', extensions: { code: 'GW_INTERNAL' } }] } });
      if (behaviour === 'going-away' || behaviour === 'event-error') setTimeout(() => ws.close(1001, 'Going away'), 50);
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    connections: () => n,
    close: () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** `teleql tail` in this process with the given waits; stop() is Ctrl-C. */
function tailHere(args: string[], timing: Partial<TailTiming>) {
  let stop = () => {};
  const interrupted = new Promise<void>((resolve) => (stop = resolve));
  const stderr = new PassThrough();
  const stdout = new PassThrough();
  let err = '';
  let out = '';
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = runTail(args, { stdout, stderr, env: {}, interrupted }, Date.now, { ...TAIL_TIMING, ...timing });
  return { code, stderr: () => err, stdout: () => out, stop };
}

/** The exit code, or a failure instead of hanging when the command does not end (as it did not). */
function exitCode(code: Promise<number>, what: string): Promise<number> {
  return Promise.race([code, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: still running after 10 s`)), 10_000).unref())]);
}

describe('teleql tail and a gateway that hangs or stops answering', () => {
  const peers: Peer[] = [];
  const peer = async (p: Promise<Peer>) => {
    const started = await p;
    peers.push(started);
    return started;
  };
  let gw: TestGateway | undefined;
  after(async () => {
    for (const p of peers) await p.close();
    await gw?.stop();
  });

  test('Ctrl-C and SIGTERM while the connection is being opened end the command with 0', async () => {
    // Both were ignored while the gateway did not answer the upgrade (dispose() waited for a
    // connection that never came): only a second signal killed it, with 130 or 143.
    const hole = await peer(blackHole());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const before = hole.connections();
      const proc = spawn(process.execPath, ['bin/teleql.js', 'tail', '--url', hole.url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      await waitFor(async () => hole.connections(), (n) => n > before, 'the CLI connecting', 60_000);
      proc.kill(signal);
      // Well inside the 10 s connect timeout, after which it would exit 1 on its own.
      const still = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 8_000).unref());
      const code = await Promise.race([exit, still]);
      if (code === 'still running') proc.kill('SIGKILL');
      assert.equal(code, 0, `${signal}: ${err}`);
      assert.equal(err, '');
    }
  });

  test('Ctrl-C and SIGTERM while the command is still loading end it with 0', async () => {
    // Signals came before the command's handlers (set once its modules had loaded, a second or two
    // through tsx) and killed it: 130 or 143. The loading is held 2 s here (test/fixtures/cli).
    const hole = await peer(blackHole());
    const slowLoad = new URL('../fixtures/cli/slow-load.mjs', import.meta.url).pathname;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const before = hole.connections();
      const proc = spawn(process.execPath, ['--import', slowLoad, 'bin/teleql.js', 'tail', '--url', hole.url], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TELEQL_FROM_SOURCE: '1' } });
      let err = '';
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      await waitFor(async () => err, (e) => e.includes('loading'), 'the command loading', 60_000);
      proc.kill(signal);
      assert.equal(await exit, 0, signal);
      assert.equal(hole.connections(), before, 'it ended before connecting');
    }
  });

  test('a gateway that takes the connection but never answers the upgrade, or never acks it, ends a first connection with 1 saying which', async () => {
    // Both waited forever, saying nothing.
    const hole = await peer(blackHole());
    const upgradeOnly = await peer(fakeGateway(['no-ack']));
    const a = tailHere(['--url', hole.url], { connectMs: 300 });
    assert.equal(await exitCode(a.code, 'no upgrade'), 1);
    assert.equal(a.stderr(), `teleql tail: no answer from ${hole.url.replace('http', 'ws')} to the WebSocket upgrade within 0.3 s\n`);
    const b = tailHere(['--url', upgradeOnly.url], { connectMs: 300 });
    assert.equal(await exitCode(b.code, 'no ack'), 1);
    assert.equal(b.stderr(), `teleql tail: ${upgradeOnly.url.replace('http', 'ws')} accepted the WebSocket but sent no connection_ack within 0.3 s\n`);
  });

  test('once connected, a reconnect the gateway never acks is given up and tried again', async () => {
    // The reconnect attempt hung for good on the gateway that did not ack.
    const fake = await peer(fakeGateway(['going-away', 'no-ack', 'ack']));
    const t = tailHere(['logs', '--url', fake.url], { connectMs: 300 });
    await waitFor(async () => t.stderr(), (e) => /reconnected to /.test(e), 'the reconnection after a connection that was never acked', 15_000);
    assert.equal(fake.connections(), 3);
    assert.match(t.stderr(), /^teleql tail: connection to ws:.* closed \(1001: Going away\); reconnecting \(Ctrl-C to stop\)\nteleql tail: reconnected to ws:.*; records ingested while disconnected are not shown\n$/);
    t.stop();
    assert.equal(await t.code, 0);
  });

  test('a connected tail notices a gateway that stopped answering: --no-reconnect ends with 1, else it reconnects', async () => {
    // It waited silently for as long as the gateway was frozen (a paused VM, a network partition).
    const frozen = await peer(fakeGateway(['no-pong']));
    const once = tailHere(['--url', frozen.url, '--no-reconnect'], { pingIntervalMs: 100, pongWaitMs: 200 });
    assert.equal(await exitCode(once.code, 'no pong'), 1);
    assert.equal(once.stderr(), `teleql tail: no answer from ${frozen.url.replace('http', 'ws')} within 0.2 s of a ping: the gateway or the network to it stopped\n`);

    const thaws = await peer(fakeGateway(['no-pong', 'ack']));
    const t = tailHere(['--url', thaws.url], { pingIntervalMs: 100, pongWaitMs: 200 });
    await waitFor(async () => t.stderr(), (e) => /reconnected to /.test(e), 'the reconnection', 15_000);
    assert.match(t.stderr(), /^teleql tail: no answer from ws:.* within 0\.2 s of a ping: the gateway or the network to it stopped; reconnecting \(Ctrl-C to stop\)\nteleql tail: reconnected to /);
    t.stop();
    assert.equal(await t.code, 0);
  });

  test('an event the gateway sends with only an error is said, and a later drop is still reconnected', async () => {
    // The event's error was kept as the command's failure, which turned the later drop (1001) into
    // "exit 1" with the old error instead of a reconnect.
    const fake = await peer(fakeGateway(['event-error', 'ack']));
    const t = tailHere(['logs', '--url', fake.url], {});
    await waitFor(async () => t.stderr(), (e) => /reconnected to /.test(e), 'the reconnection', 15_000);
    assert.match(
      t.stderr(),
      /^teleql tail: GW_INTERNAL: boom \(an event was not shown\)\nteleql tail: connection to ws:.* closed \(1001: Going away\); reconnecting \(Ctrl-C to stop\)\nteleql tail: reconnected to /,
    );
    t.stop();
    assert.equal(await t.code, 0);
  });

  test('the gateway answers the pings: a tail pinging often stays connected and keeps printing', async () => {
    gw = await startGateway();
    const tenant = 'cli-pings';
    const t = tailHere(['logs', '--url', gw.graphqlUrl, '--tenant', tenant, '--json'], { pingIntervalMs: 50, pongWaitMs: 2_000 });
    await subscriptions(gw, 1, 15_000);
    await new Promise((r) => setTimeout(r, 1_000)); // many pings
    await postOtlp(gw, '/v1/logs', logsBody('pings-svc', [{ timeNs: nowNs(), body: 'still here', severityNumber: 9 }]), tenant);
    await waitFor(async () => t.stdout(), (o) => o.includes('still here'), 'the log line', 15_000);
    assert.equal(t.stderr(), '');
    t.stop();
    assert.equal(await t.code, 0);
  });
});
