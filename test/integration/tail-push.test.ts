// Push delivery of compiled tails (src/server/compiled-subscriptions.ts): events are written to the
// graphql-ws socket directly, not through graphql-ws' iterator. Raw graphql-transport-ws clients
// over real sockets check the protocol itself (ids, `next` payloads, per-event errors, `complete`,
// closing) against a gateway running every event on the ordinary executor (tail.compiled: false),
// and what a socket that stops reading gets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { assertBurstAccounted, hex, nowNs, postOtlp, spansBody, subscriptions } from '../helpers/tail-client.ts';

interface Message {
  id?: string;
  type: string;
  payload?: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } & Record<string, unknown>;
}

/** A graphql-transport-ws client that keeps every message the server sends, after connection_ack. */
async function rawClient(gw: TestGateway, tenant: string): Promise<{ ws: WebSocket; messages: Message[]; subscribe(id: string, query: string, variables?: Record<string, unknown>): void }> {
  const ws = new WebSocket(gw.wsUrl, 'graphql-transport-ws');
  const messages: Message[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Message;
      if (m.type === 'connection_ack') return resolve();
      if (m.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
      messages.push(m);
    });
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { 'X-Scope-OrgID': tenant } })));
  });
  return { ws, messages, subscribe: (id, query, variables = {}) => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })) };
}

const closed = (ws: WebSocket) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : ws.once('close', () => r())));

describe('push delivery of compiled tails over graphql-ws', () => {
  let gw: TestGateway;
  let ordinaryGw: TestGateway;
  const sockets: WebSocket[] = [];

  before(async () => {
    [gw, ordinaryGw] = await Promise.all([startGateway({ tail: { bufferSize: 5 } }), startGateway({ tail: { bufferSize: 5, compiled: false } })]);
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await Promise.all([gw?.stop(), ordinaryGw?.stop()]);
  });

  test('next messages carry their operation id, in order, with the payloads the ordinary executor sends, per-event errors included', async () => {
    const runs = await Promise.all(
      [gw, ordinaryGw].map(async (g) => {
        const c = await rawClient(g, 'push-proto');
        sockets.push(c.ws);
        // `logs(first: 0)` fails on every event (GW_BAD_ARGUMENT), after an await: the async path.
        c.subscribe('with-error', 'subscription($s: [String!]) { tailSpans(filter: { service: $s }) { dropped span { name logs(first: 0) { bodyText } } } }', { s: ['push-proto'] });
        c.subscribe('attrs', 'subscription($f: TelemetryFilter) { tailSpans(filter: $f) { dropped span { name attribute(key: "k") service } } }', { f: { service: ['push-proto'] } });
        await subscriptions(g, 2);
        const t0 = nowNs();
        const spans = [0, 1, 2].map((i) => ({ traceId: hex(77, 32), spanId: hex(i + 1, 16), name: `op-${i}`, startNs: t0 + BigInt(i), attributes: { k: `v${i}` } }));
        assert.equal(await postOtlp(g, '/v1/traces', spansBody('push-proto', spans), 'push-proto'), 200);
        await waitFor(async () => c.messages.length, (n) => n >= 6, 'six next messages');
        return c;
      }),
    );
    const [pushed, ordinary] = runs.map((c) => c.messages);
    for (const id of ['with-error', 'attrs']) {
      const mine = pushed!.filter((m) => m.id === id);
      assert.deepEqual(mine.map((m) => m.type), ['next', 'next', 'next']);
      assert.deepEqual(mine.map((m) => (m.payload!.data as { tailSpans: { span: { name: string } } }).tailSpans.span.name), ['op-0', 'op-1', 'op-2'], 'in publish order');
      assert.deepEqual(mine, ordinary!.filter((m) => m.id === id), `the same messages for ${id}`);
    }
    const failed = pushed!.find((m) => m.id === 'with-error')!;
    assert.equal(failed.payload!.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    assert.deepEqual(failed.payload!.errors?.[0]?.['path' as 'message'], ['tailSpans', 'span', 'logs']);
    for (const c of runs) {
      c.ws.close();
      await closed(c.ws);
    }
    await Promise.all([subscriptions(gw, 0), subscriptions(ordinaryGw, 0)]);
  });

  test('complete from the client stops its subscription and frees the slot, nothing follows for its id; closing the socket frees the rest', async () => {
    const c = await rawClient(gw, 'push-complete');
    sockets.push(c.ws);
    const q = 'subscription { tailSpans(filter: { service: ["push-complete"] }) { dropped span { name } } }';
    c.subscribe('stays', q);
    c.subscribe('goes', q);
    await subscriptions(gw, 2);
    const t0 = nowNs();
    const batch = (from: number) => [0, 1].map((i) => ({ traceId: hex(78, 32), spanId: hex(from + i + 1, 16), name: `op-${from + i}`, startNs: t0 + BigInt(from + i) }));
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('push-complete', batch(0)), 'push-complete'), 200);
    await waitFor(async () => c.messages.length, (n) => n >= 4, 'both subscriptions got the first batch');

    c.ws.send(JSON.stringify({ id: 'goes', type: 'complete' }));
    await subscriptions(gw, 1);
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('push-complete', batch(2)), 'push-complete'), 200);
    await waitFor(async () => c.messages.filter((m) => m.id === 'stays').length, (n) => n >= 4, 'the second batch on the open subscription');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      c.messages.filter((m) => m.id === 'goes').map((m) => [m.type, (m.payload?.data as { tailSpans: { span: { name: string } } }).tailSpans.span.name]),
      [['next', 'op-0'], ['next', 'op-1']],
      'a client-completed subscription gets nothing more, not even complete (graphql-ws: the client ended it)',
    );
    c.ws.close();
    await closed(c.ws);
    await subscriptions(gw, 0);
  });

  test('a socket that stops reading: events wait in the bounded buffer, the oldest are dropped and counted, and ingest goes on', async () => {
    const c = await rawClient(gw, 'push-slow');
    sockets.push(c.ws);
    // Frames of ~2 KB, so a few thousand fill the loopback's socket buffers.
    c.subscribe('slow', 'subscription { tailSpans(filter: { service: ["push-slow"] }) { dropped span { name attribute(key: "pad") } } }');
    await subscriptions(gw, 1);
    c.ws.pause(); // stops reading: the kernel buffers fill, then the gateway's socket needs drain

    const pad = 'x'.repeat(2000);
    const t0 = nowNs();
    const BATCHES = 6;
    const PER = 1500;
    for (let b = 0; b < BATCHES; b++) {
      const spans = Array.from({ length: PER }, (_, i) => {
        const n = b * PER + i;
        return { traceId: hex(79, 32), spanId: hex(n + 1, 16), name: `op-${n}`, startNs: t0 + BigInt(n), attributes: { pad } };
      });
      // Answered while the subscriber is not reading: publish never waits for a socket.
      assert.equal(await postOtlp(gw, '/v1/traces', spansBody('push-slow', spans), 'push-slow'), 200);
    }
    c.ws.resume();
    const total = BATCHES * PER;
    type Event = { tailSpans: { dropped: number; span: { name: string; attribute: string } } };
    const events = () => c.messages.map((m) => (m.payload!.data as Event).tailSpans);
    await waitFor(
      async () => events().reduce((n, e) => n + 1 + e.dropped, 0),
      (n) => n >= total,
      'every span delivered or counted as dropped',
    );
    assert.ok(c.messages.every((m) => m.id === 'slow' && m.type === 'next'));
    assert.ok(events().every((e) => e.span.attribute === pad));
    const dropped = assertBurstAccounted(events().map((e) => ({ name: e.span.name, dropped: e.dropped })), total);
    assert.ok(dropped > 0, `a subscriber that stopped reading lost the oldest spans (${dropped} of ${total})`);
    c.ws.close();
    await closed(c.ws);
    await subscriptions(gw, 0);
  });
});

// tail.flushIntervalMs: pushed frames are held so that a socket's events of several ingest
// requests share one write (src/server/compiled-subscriptions.ts, FrameFlusher; which interval a
// busy event loop gets is in test/unit/server/frame-flusher.test.ts).
describe('held frames (tail.flushIntervalMs)', () => {
  let held: TestGateway;
  let immediate: TestGateway;
  const sockets: WebSocket[] = [];
  before(async () => {
    [held, immediate] = await Promise.all([startGateway({ tail: { flushIntervalMs: 1000 } }), startGateway({ tail: { flushIntervalMs: 0, busyFlushIntervalMs: 0 } })]);
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await Promise.all([held?.stop(), immediate?.stop()]);
  });

  /** A raw client subscribed to one service, counting the TCP reads its events arrive in. */
  async function countingClient(gw: TestGateway, service: string) {
    const c = await rawClient(gw, service);
    sockets.push(c.ws);
    let reads = 0;
    // ws' own socket (not public API): each 'data' is one read of what the gateway wrote.
    (c.ws as unknown as { _socket: Socket })._socket.on('data', () => reads++);
    c.subscribe('t', `subscription { tailSpans(filter: { service: ["${service}"] }) { dropped span { name } } }`);
    await subscriptions(gw, 1);
    return { ...c, reads: () => reads };
  }

  /** Three OTLP requests one after another, each acknowledged before the next is sent. */
  async function threeRequests(gw: TestGateway, service: string): Promise<void> {
    const t0 = nowNs();
    for (let i = 0; i < 3; i++) {
      const span = { traceId: hex(90, 32), spanId: hex(i + 1, 16), name: `op-${i}`, startNs: t0 + BigInt(i) };
      assert.equal(await postOtlp(gw, '/v1/traces', spansBody(service, [span]), service), 200);
    }
  }
  const names = (messages: Message[]) => messages.map((m) => (m.payload!.data as { tailSpans: { span: { name: string } } }).tailSpans.span.name);

  test('events of requests within the interval arrive in one write, in order; at 0 each request is written at once', async () => {
    for (const [gw, service] of [[held, 'hold-one-write'], [immediate, 'hold-none']] as const) {
      const c = await countingClient(gw, service);
      const readsBefore = c.reads();
      await threeRequests(gw, service);
      await waitFor(async () => c.messages.length, (n) => n >= 3, 'three next messages');
      assert.deepEqual(names(c.messages), ['op-0', 'op-1', 'op-2']);
      const reads = c.reads() - readsBefore;
      if (gw === held) assert.equal(reads, 1, 'the three events came in one write');
      // Each request's event is written before its acknowledgement is: a read of its own.
      else assert.equal(reads, 3, 'one write per request without holding');
      c.ws.close();
      await closed(c.ws);
      await subscriptions(gw, 0);
    }
  });

  test('frames held for a subscription the client completes are not sent', async () => {
    const c = await countingClient(held, 'hold-complete');
    await threeRequests(held, 'hold-complete');
    // The three events are held (1 s): complete now, before they are written.
    c.ws.send(JSON.stringify({ id: 't', type: 'complete' }));
    await subscriptions(held, 0);
    await new Promise((r) => setTimeout(r, 1300)); // past the flush that would have written them
    assert.deepEqual(c.messages, [], 'nothing after complete');
    c.ws.close();
    await closed(c.ws);
  });

  test('while events are held, a subscription whose buffer fills is read at once: nothing is dropped', async () => {
    // Held events are taken from the bus at the round too; 12 spans in one request fill a buffer
    // of 5 long before it.
    const gw = await startGateway({ tail: { flushIntervalMs: 1000, bufferSize: 5 } });
    try {
      const c = await countingClient(gw, 'hold-full');
      const t0 = nowNs();
      const spans = Array.from({ length: 12 }, (_, i) => ({ traceId: hex(91, 32), spanId: hex(i + 1, 16), name: `op-${i}`, startNs: t0 + BigInt(i) }));
      assert.equal(await postOtlp(gw, '/v1/traces', spansBody('hold-full', spans), 'hold-full'), 200);
      await waitFor(async () => c.messages.length, (n) => n >= 12, 'twelve next messages');
      assert.deepEqual(names(c.messages), spans.map((s) => s.name));
      assert.deepEqual(c.messages.map((m) => (m.payload!.data as { tailSpans: { dropped: number } }).tailSpans.dropped), new Array(12).fill(0));
      c.ws.close();
      await closed(c.ws);
    } finally {
      await gw.stop();
    }
  });

  test('stopping the gateway writes the held frames before the sockets close', async () => {
    const gw = await startGateway({ tail: { flushIntervalMs: 1000 } });
    const c = await countingClient(gw, 'hold-stop');
    await threeRequests(gw, 'hold-stop');
    assert.equal(c.messages.length, 0, 'held');
    const closedAt = closed(c.ws).then(() => c.messages.length);
    await gw.stop();
    assert.equal(await closedAt, 3, 'the held events arrived before the close');
    assert.deepEqual(names(c.messages), ['op-0', 'op-1', 'op-2']);
  });
});
