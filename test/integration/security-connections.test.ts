// Idle and slow connections are closed by the server on every listener (limits.connections, short
// here), over real sockets; graphql-ws messages are held to the HTTP body limit, and what a
// connection sends before it is admitted to far less; and queries sent over graphql-ws get the HTTP
// request deadline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http, { maxHeaderSize } from 'node:http';
import http2 from 'node:http2';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { spansJson } from '../helpers/otlp-bodies.ts';
import { waitFor } from '../helpers/wait-for.ts';
import * as grpc from '@grpc/grpc-js';
import { grpcExport } from '../helpers/otlp-grpc.ts';
import { resource, span } from '../helpers/telemetry-builders.ts';
import { encodeRequest } from '../../src/otlp/encode.ts';

const SHORT = {
  httpKeepAliveTimeoutMs: 300,
  httpHeadersTimeoutMs: 500,
  httpRequestTimeoutMs: 2_000,
  wsIdleTimeoutMs: 600,
  wsPingIntervalMs: 0,
  grpcMaxIdleMs: 500,
  grpcKeepaliveTimeMs: 0,
  grpcKeepaliveTimeoutMs: 0,
};

const hostPort = (url: string) => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
};

/** Opens a TCP connection, writes `text`, and resolves with everything received once the server closes it. */
function untilServerCloses(addr: { host: string; port: number }, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(addr, () => socket.write(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

/** A graphql-transport-ws connection, acknowledged. */
async function wsConnect(url: string, tenant: string, autoPong = true): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }>; messages: unknown[] }> {
  const ws = new WebSocket(url, 'graphql-transport-ws', { autoPong });
  const messages: unknown[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { 'x-scope-orgid': tenant } })));
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString()) as { type: string };
      messages.push(msg);
      if (msg.type === 'connection_ack') resolve();
    });
  });
  return { ws, closed, messages };
}

describe('idle and slow connections are closed', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { connections: SHORT } });
  });
  after(() => gw.stop());

  test('OTLP/HTTP and GraphQL HTTP: a kept-alive connection left idle is closed after its request was answered', async () => {
    for (const url of [gw.otlpHttp, gw.graphqlUrl]) {
      const received = await untilServerCloses(hostPort(url), 'GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n');
      assert.match(received, /^HTTP\/1\.1 \d{3}/, `${url} answered before closing`);
    }
  });

  test('OTLP/HTTP and GraphQL HTTP: a client that never finishes its headers gets 408 and is disconnected', async () => {
    for (const url of [gw.otlpHttp, gw.graphqlUrl]) {
      const received = await untilServerCloses(hostPort(url), 'POST /v1/traces HTTP/1.1\r\nHost: test\r\n');
      assert.match(received, /^HTTP\/1\.1 408/, `${url}: ${received.slice(0, 40)}`);
    }
  });

  test('OTLP/HTTP: a body that never finishes arriving is cut off at the request timeout', async () => {
    const received = await untilServerCloses(hostPort(gw.otlpHttp), 'POST /v1/traces HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"resourceSpans":');
    assert.match(received, /^HTTP\/1\.1 408/, received.slice(0, 40));
  });

  test('OTLP/gRPC: an HTTP/2 connection with no call is sent GOAWAY and closed', async () => {
    const session = http2.connect(`http://${gw.otlpGrpc}`);
    let goaway = false;
    session.on('goaway', () => (goaway = true));
    session.on('error', () => {});
    await new Promise<void>((resolve) => session.on('close', () => resolve()));
    assert.ok(goaway, 'the server said GOAWAY before closing');
  });

  test('graphql-ws: an acknowledged connection with no operation and no message is closed with 4000', async () => {
    const { closed } = await wsConnect(gw.wsUrl, 'idle');
    const { code, reason } = await closed;
    assert.equal(code, 4000);
    assert.match(reason, /idle for 600 ms/);
  });

  test('graphql-ws: a connection with a subscription running is kept past the idle timeout', async () => {
    const { ws, closed, messages } = await wsConnect(gw.wsUrl, 'busy');
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { tailLogs { dropped } }' } }));
    let closedEarly = false;
    void closed.then(() => (closedEarly = true));
    await new Promise((r) => setTimeout(r, 3 * SHORT.wsIdleTimeoutMs));
    assert.equal(closedEarly, false, `closed with a subscription running; messages: ${JSON.stringify(messages)}`);
    // Completing the subscription makes it idle again: then it is closed.
    ws.send(JSON.stringify({ id: '1', type: 'complete' }));
    assert.equal((await closed).code, 4000);
  });
});

describe('graphql-ws pings come from limits.connections.wsPingIntervalMs only', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { connections: { ...SHORT, wsIdleTimeoutMs: 0, wsPingIntervalMs: 0 } } });
  });
  after(() => gw.stop());

  test('with pings off, a client that would not answer one is neither pinged nor cut, past 12 s', async () => {
    // graphql-ws' own ws adapter pinged every 12 s whatever the setting, and cut a client that had
    // not answered 12 s later.
    const { ws, closed } = await wsConnect(gw.wsUrl, 'quiet', false);
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { tailLogs { dropped } }' } }));
    let pings = 0;
    ws.on('ping', () => pings++);
    let closedEarly = false;
    void closed.then(() => (closedEarly = true));
    await new Promise((r) => setTimeout(r, 12_500));
    assert.equal(pings, 0);
    assert.equal(closedEarly, false);
    ws.close();
  });
});

describe('graphql-ws message size', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { maxBodyBytes: 20_000 } } });
  });
  after(() => gw.stop());

  test('a message over limits.graphql.maxBodyBytes closes the connection with 1009, before and after connection_init', { timeout: 20_000 }, async () => {
    const big = JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(30_000) } });
    const raw = new WebSocket(gw.wsUrl, 'graphql-transport-ws');
    const rawClosed = new Promise<number>((resolve) => raw.on('close', (code) => resolve(code)));
    raw.on('open', () => raw.send(big));
    assert.equal(await rawClosed, 1009);

    const { ws, closed } = await wsConnect(gw.wsUrl, 'acme');
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ services }', variables: { pad: 'x'.repeat(30_000) } } }));
    assert.equal((await closed).code, 1009);
    // A message under the limit still works on a new connection.
    const ok = await wsConnect(gw.wsUrl, 'acme');
    const answer = new Promise<unknown>((resolve) => ok.ws.on('message', (m) => resolve(JSON.parse(m.toString()))));
    ok.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ services }', variables: { pad: 'x'.repeat(10_000) } } }));
    assert.deepEqual(await answer, { id: '1', type: 'next', payload: { data: { services: [] } } });
    ok.ws.close();
  });

  test('a peer that never answers the close frame after an oversize message is cut off, not held for ws’ 30 s', { timeout: 10_000 }, async () => {
    // A raw client: the upgrade, a masked connection_init, then only the header of a frame far over
    // the limit; it never sends the close frame back, keeps its side open after the server's FIN and
    // goes on sending (ws would read and discard that for 30 s).
    const { host, port } = hostPort(gw.graphqlUrl);
    const socket = net.connect({ host, port, allowHalfOpen: true });
    socket.on('error', () => {}); // the reset that ends it
    const frame = (payload: Buffer, declaredLength = payload.length) => {
      const mask = Buffer.from([1, 2, 3, 4]);
      const header = declaredLength < 126 ? Buffer.from([0x81, 0x80 | declaredLength]) : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), Buffer.alloc(8)]);
      if (declaredLength >= 126) header.writeBigUInt64BE(BigInt(declaredLength), 2);
      return Buffer.concat([header, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
    };
    let received = Buffer.alloc(0);
    const arrived = (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        const check = () => pattern.test(received.toString('latin1')) && (socket.off('data', check), resolve());
        socket.on('data', check);
        check();
      });
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    const closedByServer = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `GET ${new URL(gw.wsUrl).pathname} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\nX-Scope-OrgID: acme\r\n\r\n`,
    );
    await arrived(/^HTTP\/1\.1 101 /);
    socket.write(frame(Buffer.from(JSON.stringify({ type: 'connection_init' }))));
    await arrived(/connection_ack/);
    socket.write(frame(Buffer.alloc(0), 100_000_000));
    const junk = setInterval(() => socket.writable && socket.write(Buffer.alloc(1024, 7)), 50);
    await closedByServer;
    clearInterval(junk);
    // The server's close frame (opcode 8) with 1009 came before the cut.
    const closeAt = received.lastIndexOf(Buffer.from([0x88]));
    assert.ok(closeAt > 0, 'a close frame was sent');
    assert.equal(received.readUInt16BE(closeAt + 2), 1009);
  });
});

describe('graphql-ws before admission', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(); // limits.graphql.maxBodyBytes: 16 MiB
  });
  after(() => gw.stop());

  /** Opens a socket and sends one connection_init of `payload`; resolves with what the server sent and how it closed. */
  const initWith = (payload: Record<string, unknown>) =>
    new Promise<{ code: number; reason: string; messages: string[] }>((resolve, reject) => {
      const ws = new WebSocket(gw.wsUrl, 'graphql-transport-ws');
      const messages: string[] = [];
      ws.on('error', reject);
      ws.on('message', (m) => messages.push(JSON.parse(m.toString()).type));
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload })));
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), messages }));
    });

  test('a connection_init over what HTTP headers may hold is refused with 1009 before it is read whole; the gateway keeps serving', { timeout: 60_000 }, async () => {
    // Found by security QA: a connection_init could be 16 MiB (maxPayload) before any credential was
    // looked at; 8 sockets each sending 15 MB took a valid tenant's query p99 to 1.2 s.
    const pad = 'x'.repeat(15 * 1024 * 1024);
    const refused = await Promise.all(Array.from({ length: 8 }, () => initWith({ 'x-scope-orgid': 'acme', pad })));
    for (const { code, reason, messages } of refused) {
      assert.equal(code, 1009);
      assert.equal(reason, `more than ${maxHeaderSize} bytes sent before the connection was admitted`);
      assert.deepEqual(messages, [], 'never acknowledged');
    }
    // A credential-sized connection_init is admitted, and an admitted connection may send messages
    // up to limits.graphql.maxBodyBytes, far more than before admission.
    const { ws, closed } = await wsConnect(gw.wsUrl, 'acme');
    const answer = new Promise<unknown>((resolve) => ws.on('message', (m) => resolve(JSON.parse(m.toString()))));
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ services }', variables: { pad: 'x'.repeat(4 * maxHeaderSize) } } }));
    assert.deepEqual(await answer, { id: '1', type: 'next', payload: { data: { services: [] } } });
    ws.close();
    await closed;
    const { messages } = await new Promise<{ messages: string[] }>((resolve, reject) => {
      // A JWT-sized credential is far under the bound.
      const s = new WebSocket(gw.wsUrl, 'graphql-transport-ws');
      const types: string[] = [];
      s.on('error', reject);
      s.on('open', () => s.send(JSON.stringify({ type: 'connection_init', payload: { 'x-scope-orgid': 'acme', authorization: `Bearer ${'j'.repeat(8000)}` } })));
      s.on('message', (m) => {
        types.push(JSON.parse(m.toString()).type);
        s.close();
      });
      s.on('close', () => resolve({ messages: types }));
    });
    assert.deepEqual(messages, ['connection_ack']);
    // And HTTP is served.
    const res = await new Promise<number>((resolve, reject) => {
      const req = http.request(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ query: '{ services }' }));
    });
    assert.equal(res, 200);
  });
});

describe('graphql-ws ping liveness', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { connections: { ...SHORT, wsIdleTimeoutMs: 0, wsPingIntervalMs: 300 } } });
  });
  after(() => gw.stop());

  test('a client that does not answer the server’s WebSocket ping is cut off; one that does stays', async () => {
    const answering = await wsConnect(gw.wsUrl, 'alive');
    const silent = await wsConnect(gw.wsUrl, 'gone', false);
    let pings = 0;
    answering.ws.on('ping', () => pings++);
    const { code } = await silent.closed;
    assert.equal(code, 1006, 'terminated without a close frame');
    assert.ok(pings >= 1, 'the answering client was pinged too');
    assert.equal(answering.ws.readyState, WebSocket.OPEN, 'the answering client is still connected');
    answering.ws.close();
  });
});

describe('GraphQL-over-SSE liveness (limits.connections.sseStalledMs)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { connections: { ...SHORT, wsIdleTimeoutMs: 0, sseStalledMs: 1_000 } } });
  });
  after(() => gw.stop());

  test('an SSE tail whose client stopped reading is cut and gives back its slot; one that reads stays', async () => {
    // It kept its subscription until the client's socket died, its events dropped meanwhile.
    const tenant = 'sse-stalled';
    const body = JSON.stringify({ query: 'subscription { tailSpans(filter: { service: ["sse-svc"] }) { span { name attribute(key: "blob") } } }' });
    const url = new URL(gw.graphqlUrl);
    const stalled = net.connect({ host: url.hostname, port: Number(url.port) });
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.on('error', () => {});
    stalled.write(
      `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n` +
        `X-Scope-OrgID: ${tenant}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    stalled.pause(); // reads nothing more, ever: the kernel's buffers fill, then the server's
    const abort = new AbortController();
    const reading = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-scope-orgid': tenant }, body, signal: abort.signal });
    assert.equal(reading.status, 200);
    let received = 0;
    const reader = reading.body!.getReader();
    const readAll = (async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read()) received += r.value.length;
    })().catch(() => {});
    await waitFor(async () => gw.app.internals.tail().size(), (n) => n === 2, 'both SSE tails subscribed');

    // 4 KB per event until the stalled stream's buffers are full for a second (loopback buffers take a few MB).
    const blob = 'x'.repeat(4096);
    let cut = false;
    for (let batch = 0; batch < 60 && !cut; batch++) {
      const res = await fetch(`${gw.otlpHttp}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant },
        body: JSON.stringify(spansJson(Array.from({ length: 250 }, (_, i) => ({ service: 'sse-svc', name: `op-${batch}-${i}`, attributes: { blob } })))),
      });
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 100));
      cut = gw.app.internals.tail().size() === 1;
    }
    await waitFor(async () => gw.app.internals.tail().size(), (n) => n === 1, 'the stalled tail cut', 5_000);
    stalled.resume(); // let the socket see the server's close
    await stalledClosed;
    const before = received;
    await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant }, body: JSON.stringify(spansJson([{ service: 'sse-svc', name: 'after' }])) });
    await waitFor(async () => received, (n) => n > before, 'the reading client still receiving');
    assert.equal(gw.app.internals.tail().size(), 1, 'the reading client is still subscribed');
    abort.abort();
    await readAll;
  });
});

describe('graphql-ws operations obey the request deadline', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { graphql: { timeoutMs: 1 } } });
  });
  after(() => gw.stop());

  test('a query over WebSocket still running at the deadline is interrupted and answered with GW_TIMEOUT', async () => {
    const specs = Array.from({ length: 40_000 }, (_, i) => ({ name: `op-${i}`, attributes: { 'http.url': `https://example.test/item/${i}?q=${'x'.repeat(20)}` } }));
    for (let i = 0; i < specs.length; i += 10_000) {
      const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': 'slow' }, body: JSON.stringify(spansJson(specs.slice(i, i + 10_000))) });
      assert.equal(res.status, 200);
    }
    const query = '{ spans(first: 1000, filter: { attributes: [{ key: "http.url", regex: ".*(a|b|c)+.*z.*" }] }) { edges { node { name } } } }';
    const { ws } = await wsConnect(gw.wsUrl, 'slow');
    try {
      let answer: { errors?: { message: string; extensions?: { code?: string } }[] } | undefined;
      for (let i = 0; i < 20 && answer?.errors?.[0]?.extensions?.code !== 'GW_TIMEOUT'; i++) {
        answer = await new Promise((resolve) => {
          const id = `q${i}`;
          const onMessage = (m: WebSocket.RawData) => {
            const msg = JSON.parse(m.toString()) as { id?: string; type: string; payload: unknown };
            if (msg.id !== id) return;
            if (msg.type === 'next') resolve(msg.payload as typeof answer);
            if (msg.type === 'error') resolve({ errors: msg.payload as { message: string }[] });
            if (msg.type !== 'next') ws.off('message', onMessage);
          };
          ws.on('message', onMessage);
          ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
        });
        if (answer?.errors?.[0]?.extensions?.code !== 'GW_TIMEOUT') await new Promise((r) => setTimeout(r, 200)); // data still being written
      }
      assert.equal(answer?.errors?.[0]?.extensions?.code, 'GW_TIMEOUT', JSON.stringify(answer).slice(0, 300));
      assert.match(answer!.errors![0]!.message, /request deadline of 1 ms \(limits\.graphql\.timeoutMs\) passed/);
    } finally {
      ws.close();
    }
  });
});

/**
 * A bare HTTP/2 client on a raw socket: sends the connection preface and SETTINGS, acknowledges the
 * server's SETTINGS, and never answers a PING (node:http2 clients always do, by themselves).
 * Resolves once the server closes the connection, with the frame types it had received.
 */
function silentHttp2Client(hostPort: string): { closed: Promise<{ pings: number; goaway: boolean }> } {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))];
  const frame = (type: number, flags: number, payload = Buffer.alloc(0)) => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    return Buffer.concat([head, payload]); // stream 0
  };
  const SETTINGS = 0x4;
  const PING = 0x6;
  const GOAWAY = 0x7;
  const ACK = 0x1;
  let pings = 0;
  let goaway = false;
  const closed = new Promise<{ pings: number; goaway: boolean }>((resolve, reject) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port }, () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(SETTINGS, 0)]));
    });
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3);
        if (buf.length < 9 + length) break;
        const type = buf[3]!;
        const flags = buf[4]!;
        if (type === SETTINGS && !(flags & ACK)) socket.write(frame(SETTINGS, ACK));
        if (type === PING && !(flags & ACK)) pings++;
        if (type === GOAWAY) goaway = true;
        buf = buf.subarray(9 + length);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ pings, goaway }));
  });
  return { closed };
}

describe('OTLP/gRPC keepalive', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { connections: { ...SHORT, grpcMaxIdleMs: 0, grpcKeepaliveTimeMs: 300, grpcKeepaliveTimeoutMs: 300 } } });
  });
  after(() => gw.stop());

  test('a client that stops answering the server’s HTTP/2 pings is disconnected; one that answers stays', async () => {
    const answering = http2.connect(`http://${gw.otlpGrpc}`);
    let answeringPings = 0;
    let answeringClosed = false;
    answering.on('ping', () => answeringPings++);
    answering.on('close', () => (answeringClosed = true));
    answering.on('error', () => {});
    const { pings } = await silentHttp2Client(gw.otlpGrpc).closed;
    assert.ok(pings >= 1, 'the silent client was pinged before it was cut off');
    // Still connected after a few ping rounds of its own, the answering client was pinged and kept.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.ok(answeringPings >= 1, 'the answering client was pinged too');
    assert.equal(answeringClosed, false, 'the answering client is still connected');
    answering.close();
  });
});

describe('connections open at once are capped per client address and per listener', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { connections: { maxPerAddress: 3, maxPerListener: 5 } } });
  });
  after(() => gw?.stop());

  /** A connection from `from` that stays open (nothing sent), once the client side is up. */
  const hold = (addr: { host: string; port: number }, from: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ ...addr, localAddress: from }, () => resolve(socket));
      socket.once('error', reject);
    });
  /** One HTTP request on a fresh connection from `from`: status and body. */
  const request = (url: string, from: string, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(url, { method: body === undefined ? 'GET' : 'POST', agent: false, localAddress: from, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  /** What a held connection answers to one request written on it. */
  const ask = (socket: net.Socket, text: string) =>
    new Promise<string>((resolve) => {
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        received += d;
        if (/\r\n\r\n/.test(received)) resolve(received);
      });
      socket.write(text);
    });
  const closed = (socket: net.Socket) => new Promise<void>((resolve) => (socket.destroy(), socket.once('close', () => resolve())));
  const graphql = () => hostPort(gw.graphqlUrl);
  const otlp = () => hostPort(gw.otlpHttp);
  const QUERY = JSON.stringify({ query: '{ __typename }' });

  test('GraphQL: past maxPerAddress a client gets 503 naming the limit; other addresses and its open connections are served; a closed one frees its slot', async () => {
    const held = [await hold(graphql(), '127.0.0.1'), await hold(graphql(), '127.0.0.1'), await hold(graphql(), '127.0.0.1')];
    const refused = await request(gw.graphqlUrl, '127.0.0.1', QUERY);
    assert.equal(refused.status, 503);
    assert.match(refused.text, /127\.0\.0\.1 has 3 connections open \(limits\.connections\.maxPerAddress = 3\)/);
    assert.deepEqual(await request(gw.graphqlUrl, '127.0.0.2', QUERY), { status: 200, text: '{"data":{"__typename":"Query"}}' });
    // A connection admitted before the cap was reached is served as ever.
    assert.match(await ask(held[0]!, `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 200 /);
    await closed(held[1]!);
    const again = await waitFor(() => request(gw.graphqlUrl, '127.0.0.1', QUERY), (r) => r.status === 200, 'a slot freed by the close');
    assert.equal(again.text, '{"data":{"__typename":"Query"}}');
    const metrics = (await request(gw.graphqlUrl.replace('/graphql', '/metrics'), '127.0.0.3')).text;
    assert.match(metrics, /teleql_connections_refused_total\{listener="graphql",limit="maxPerAddress"\} [1-9]/);
    await Promise.all([held[0]!, held[2]!].map(closed));
  });

  test('OTLP/HTTP: the same cap on its own listener; spans sent on an admitted connection are stored', async () => {
    const held = [await hold(otlp(), '127.0.0.1'), await hold(otlp(), '127.0.0.1'), await hold(otlp(), '127.0.0.1')];
    const body = JSON.stringify(spansJson([{ name: 'capped-but-kept', service: 'caps' }]));
    const refused = await request(`${gw.otlpHttp}/v1/traces`, '127.0.0.1', body);
    assert.equal(refused.status, 503);
    assert.match(refused.text, /limits\.connections\.maxPerAddress = 3/);
    // GraphQL's listener counts its own connections: this address is not capped there.
    assert.equal((await request(gw.graphqlUrl, '127.0.0.1', QUERY)).status, 200);
    const answer = await ask(held[2]!, `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const spans = await waitFor(
      () => request(gw.graphqlUrl, '127.0.0.2', JSON.stringify({ query: '{ spans(filter: { service: ["caps"] }) { nodes { name } } }' })),
      (r) => r.text.includes('capped-but-kept'),
      'the span sent on the admitted connection',
    );
    assert.equal(spans.status, 200);
    await Promise.all(held.map(closed));
  });

  test('OTLP/gRPC: a connection past maxPerAddress is closed at accept; a freed slot takes a real export again', async () => {
    const grpcAddr = hostPort(`http://${gw.otlpGrpc}`);
    const held = [await hold(grpcAddr, '127.0.0.1'), await hold(grpcAddr, '127.0.0.1'), await hold(grpcAddr, '127.0.0.1')];
    // The fourth is closed by the gateway before anything is read (the test's timeout bounds the wait).
    const extra = await hold(grpcAddr, '127.0.0.1');
    await new Promise<void>((resolve) => (extra.on('error', () => {}), extra.once('close', () => resolve())));
    await closed(held[0]!);
    const body = Buffer.from(encodeRequest('traces', [span({ tenant: 'default', name: 'over-grpc', resource: resource('caps-grpc') })]));
    const answer = await waitFor(() => grpcExport(gw.otlpGrpc, 'traces', body), (a) => a.code === grpc.status.OK, 'an export on the freed slot');
    assert.equal(answer.details, '');
    const metrics = (await request(gw.graphqlUrl.replace('/graphql', '/metrics'), '127.0.0.3')).text;
    assert.match(metrics, /teleql_connections_refused_total\{listener="otlp\/grpc",limit="maxPerAddress"\} [1-9]/);
    await Promise.all(held.slice(1).map(closed));
  });

  test('past maxPerListener, any new client gets 503 naming that limit', async () => {
    const held = await Promise.all(['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.15'].map((from) => hold(graphql(), from)));
    // All five are counted once the server has accepted them; until then a sixth may still get in.
    const refused = await waitFor(() => request(gw.graphqlUrl, '127.0.0.16', QUERY), (r) => r.status === 503, 'the listener cap');
    assert.match(refused.text, /this listener has 5 connections open \(limits\.connections\.maxPerListener = 5\)/);
    await closed(held[0]!);
    assert.equal((await waitFor(() => request(gw.graphqlUrl, '127.0.0.16', QUERY), (r) => r.status === 200, 'a slot freed by the close')).status, 200);
    await Promise.all(held.slice(1).map(closed));
  });
});

describe('IPv6 clients are capped per network', () => {
  let gw: TestGateway;
  before(async () => {
    // ::1 is in ::/64, the network named in the refusal (addressKey; unit-tested over many addresses).
    gw = await startGateway({ graphql: { host: '::1' }, limits: { connections: { maxPerAddress: 2 } } });
  });
  after(() => gw?.stop());

  test('past maxPerAddress, the 503 names the client\'s /64, not its address', async () => {
    const url = new URL(gw.graphqlUrl);
    const addr = { host: '::1', port: Number(url.port) };
    const held = await Promise.all([0, 1].map(() => new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(addr, () => resolve(socket));
      socket.once('error', reject);
    })));
    const refused = await waitFor(
      () => new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(gw.graphqlUrl, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ query: '{ __typename }' }));
      }),
      (r) => r.status === 503,
      'the per-network cap',
    );
    assert.match(refused.text, /^::\/64 has 2 connections open \(limits\.connections\.maxPerAddress = 2\)/);
    held.forEach((s) => s.destroy());
  });
});
