// graphql-ws liveness (src/server/ws-liveness.ts) over real sockets: a client that is alive but
// behind (it stopped reading, so the ping waits behind its backlog) is not cut as "missed ping";
// its tail drops the oldest events and says so. A peer that is gone is still cut: one that does
// not answer a ping it was sent, and one whose backlog takes nothing for limits.connections.sseStalledMs.
// The idle close (4000) counts from the end of the connection's last operation too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { assertBurstAccounted, hex, nowNs, postOtlp, spansBody, subscriptions } from '../helpers/tail-client.ts';

interface Message {
  id?: string;
  type: string;
  payload?: unknown;
  receivedAt: number;
}

type SpanEvent = { tailSpans: { dropped: number; span: { name: string } } };

/** A graphql-transport-ws client, acknowledged, that keeps every message after connection_ack. */
async function rawClient(gw: TestGateway, tenant: string): Promise<{ ws: WebSocket; messages: Message[]; closed: Promise<number> }> {
  const ws = new WebSocket(gw.wsUrl, 'graphql-transport-ws');
  const messages: Message[] = [];
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const m = { ...(JSON.parse(String(data)) as Omit<Message, 'receivedAt'>), receivedAt: Date.now() };
      if (m.type === 'connection_ack') return resolve();
      messages.push(m);
    });
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { 'X-Scope-OrgID': tenant } })));
  });
  return { ws, messages, closed };
}

const SLOW_TAIL = (service: string) => `subscription { tailSpans(filter: { service: ["${service}"] }) { dropped span { name attribute(key: "pad") } } }`;

/** Posts `batches` × 1,500 spans of ~2 KB each named op-N (enough to fill loopback's socket buffers). */
async function flood(gw: TestGateway, service: string, batches: number): Promise<number> {
  const pad = 'x'.repeat(2000);
  const t0 = nowNs();
  const PER = 1500;
  for (let b = 0; b < batches; b++) {
    const spans = Array.from({ length: PER }, (_, i) => {
      const n = b * PER + i;
      return { traceId: hex(91, 32), spanId: hex(n + 1, 16), name: `op-${n}`, startNs: t0 + BigInt(n), attributes: { pad } };
    });
    // Answered while the subscriber reads nothing: ingest never waits for a socket.
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody(service, spans), service), 200);
  }
  return batches * PER;
}

// A ping interval far longer than the first flooded batch takes to reach the socket on a loaded
// machine: until it is written, the paused client is not yet behind, and a missed pong would cut it
// (a client that stops reading with less than 64 KiB queued is cut: docs/known-gaps.md).
const LIVENESS = { wsIdleTimeoutMs: 0, wsPingIntervalMs: 1_000, sseStalledMs: 6_000 };

describe('graphql-ws ping liveness and a client that is behind', () => {
  let gw: TestGateway;
  let ordinaryGw: TestGateway;
  before(async () => {
    [gw, ordinaryGw] = await Promise.all([
      startGateway({ tail: { bufferSize: 50 }, limits: { connections: LIVENESS } }),
      // Events through graphql-ws' own path (each write awaited) rather than pushed to the socket.
      startGateway({ tail: { bufferSize: 50, compiled: false }, limits: { connections: LIVENESS } }),
    ]);
  });
  after(() => Promise.all([gw.stop(), ordinaryGw.stop()]));

  for (const compiled of [true, false]) {
    test(`a client that stops reading for many ping intervals and then resumes stays connected, and its tail says what it dropped (tail.compiled: ${compiled})`, async () => {
      await staysBehind(compiled ? gw : ordinaryGw);
    });
  }

  async function staysBehind(gw: TestGateway): Promise<void> {
    const c = await rawClient(gw, 'behind');
    let closedCode: number | undefined;
    void c.closed.then((code) => (closedCode = code));
    c.ws.send(JSON.stringify({ id: 'slow', type: 'subscribe', payload: { query: SLOW_TAIL('behind') } }));
    await subscriptions(gw, 1);
    c.ws.pause(); // reads nothing: its kernel buffers fill, then the gateway's socket, and the ping waits behind them
    const total = await flood(gw, 'behind', 6);
    // Well past the two ping intervals after which an unanswered ping cut it, but taking bytes
    // again before limits.connections.sseStalledMs.
    await new Promise((r) => setTimeout(r, 3_500));
    c.ws.resume();
    const events = () => c.messages.filter((m) => m.type === 'next').map((m) => (m.payload as { data: SpanEvent }).data.tailSpans);
    await waitFor(async () => events().reduce((n, e) => n + 1 + e.dropped, 0), (n) => n >= total, 'every span delivered or counted as dropped');
    assert.equal(closedCode, undefined, 'still connected');
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    const dropped = assertBurstAccounted(events().map((e) => ({ name: e.span.name, dropped: e.dropped })), total);
    assert.ok(dropped > 0, `the oldest spans were dropped (${dropped} of ${total}) and counted`);
    assert.ok(events().some((e) => e.dropped > 0), 'an event carries dropped > 0');
    // Caught up, it answers pings again and stays past several intervals.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(closedCode, undefined, 'still connected after catching up');
    c.ws.close();
    await c.closed;
    await subscriptions(gw, 0);
  }

  test('a client that stops reading for good is cut once its backlog has taken nothing for limits.connections.sseStalledMs', async () => {
    const c = await rawClient(gw, 'gone');
    c.ws.send(JSON.stringify({ id: 'gone', type: 'subscribe', payload: { query: SLOW_TAIL('gone') } }));
    await subscriptions(gw, 1);
    c.ws.pause();
    await flood(gw, 'gone', 6);
    // The gateway's side is gone once the tail is: the client reads nothing to see it.
    await subscriptions(gw, 0, 25_000);
    c.ws.resume();
    assert.equal(await c.closed, 1006, 'terminated without a close frame');
  });

  test('a client that reads but answers no ping is still cut', async () => {
    const ws = new WebSocket(gw.wsUrl, 'graphql-transport-ws', { autoPong: false });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { 'X-Scope-OrgID': 'no-pong' } })));
    assert.equal(await closed, 1006);
  });
});

describe('graphql-ws idle close after the last operation', () => {
  const IDLE_MS = 1_000;
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ tail: { matchBudgetMs: 50 }, limits: { connections: { wsIdleTimeoutMs: IDLE_MS, wsPingIntervalMs: 0 } } });
  });
  after(() => gw.stop());

  test('a subscription the server ends after running longer than the idle timeout leaves the connection the whole idle timeout', async () => {
    const c = await rawClient(gw, 'idle-after');
    let closedAt: number | undefined;
    const closed = c.closed.then((code) => ((closedAt = Date.now()), code));
    // A regex tail over long values: the gateway ends it (GW_LIMIT_EXCEEDED, tail.matchBudgetMs) once it has cost too much.
    const query = `subscription { tailSpans(filter: { service: ["idle-svc"], attributes: [{ key: "payload", regex: ".*${'a{0,16}'.repeat(7)}.*b" }] }) { span { name } } }`;
    c.ws.send(JSON.stringify({ id: 'costly', type: 'subscribe', payload: { query } }));
    await subscriptions(gw, 1);
    // Running longer than the idle timeout with no client message.
    await new Promise((r) => setTimeout(r, 2 * IDLE_MS));
    assert.equal(closedAt, undefined, 'kept while the subscription runs');
    const ended = () => c.messages.find((m) => m.id === 'costly' && m.type === 'error');
    for (let i = 0; i < 40 && !ended(); i++) {
      const spans = Array.from({ length: 5 }, (_, j) => ({ traceId: hex(i * 5 + j + 1, 32), spanId: hex(i * 5 + j + 1, 16), name: `s${i}-${j}`, startNs: nowNs(), attributes: { payload: 'a'.repeat(16_000) } }));
      assert.equal(await postOtlp(gw, '/v1/traces', spansBody('idle-svc', spans), 'idle-after'), 200);
    }
    const endedAt = (await waitFor(async () => ended(), (e) => e !== undefined, 'the gateway ended the costly tail'))!.receivedAt;
    assert.equal(await closed, 4000);
    // It was closed at the next idle check (a quarter of the timeout) after the tail ended.
    assert.ok(closedAt! - endedAt >= IDLE_MS / 2, `closed ${closedAt! - endedAt} ms after its last operation ended; the idle timeout is ${IDLE_MS} ms`);
  });
});
