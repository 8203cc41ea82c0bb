// limits.ingest.closeAfterRefusals on a real gateway: a tenant that keeps sending after its 429s
// gets, past the threshold, 429 + Retry-After + Connection: close with the rest of its body unread
// (the client still reads its answer, no reset), while a client that honours Retry-After — the real
// OTel HTTP exporter — only ever sees retryable 429s on kept-alive connections, and gets its spans in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { spansJson } from '../helpers/otlp-bodies.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';

const THRESHOLD = 3;

async function metric(gw: TestGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** POSTs a JSON body of `size` bytes (a valid document, then spaces) on a kept-alive agent, all at once. */
function post(url: string, tenant: string, size: number, agent: http.Agent): Promise<Answer> {
  const doc = JSON.stringify(spansJson([{ name: 'flood', service: `svc-${tenant}` }]));
  const body = Buffer.concat([Buffer.from(doc), Buffer.alloc(Math.max(0, size - doc.length), 0x20)]);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'x-scope-orgid': tenant } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject); // a reset before the answer fails the test
    req.end(body);
  });
}

/**
 * A raw client that sends headers announcing `size` bytes and then writes the body as fast as the
 * connection takes it: how many body bytes the kernel accepted by the time the server's answer
 * arrived and the connection ended, and the answer's first line and headers.
 */
function rawPost(port: number, tenant: string, size: number): Promise<{ head: string; writtenAtAnswer: number; written: number }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let head = '';
    let writtenAtAnswer = -1;
    let written = 0;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    s.on('error', () => {}); // the server cuts the connection once its linger is over
    s.on('data', (d: Buffer) => {
      if (writtenAtAnswer < 0) writtenAtAnswer = written;
      head += d.toString();
    });
    s.on('close', () => resolve({ head, writtenAtAnswer, written }));
    s.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Scope-OrgID: ${tenant}\r\nContent-Length: ${size}\r\n\r\n`);
    const pump = () => {
      while (written < size && !s.destroyed && s.writable) {
        written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    pump();
  });
}

/** The tenant's first request, admitted on its 1 item/s, carries 60 spans: the tenant then owes ~60 s, so every later request is refused within one Retry-After window. */
async function makeOwe(gw: TestGateway, tenant: string): Promise<void> {
  const body = JSON.stringify(spansJson(Array.from({ length: 60 }, (_, i) => ({ name: `first-${i}`, service: `svc-${tenant}` }))));
  const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant }, body });
  assert.equal(res.status, 200);
}

describe('limits.ingest.closeAfterRefusals', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ receivers: { otlp: { maxRequestBytes: 64 * 1024 * 1024 } }, limits: { ingest: { itemsPerSecond: 1, bytesPerSecond: 0, closeAfterRefusals: THRESHOLD } } });
  });
  after(() => gw.stop());

  test('a tenant that ignores its 429s gets, past the threshold, 429 + Retry-After + Connection: close; the gateway serves on', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const url = `${gw.otlpHttp}/v1/traces`;
    const closedBefore = await metric(gw, 'teleql_otlp_closed_unread_total');
    try {
      await makeOwe(gw, 'flood');
      const answers: Answer[] = [];
      for (let i = 0; i < THRESHOLD + 3; i++) answers.push(await post(url, 'flood', 1024 * 1024, agent));
      assert.deepEqual(answers.map((a) => a.status), answers.map(() => 429));
      for (const a of answers) {
        assert.ok(Number(a.headers['retry-after']) >= 30, 'every 429 carries the Retry-After of what is owed');
        assert.match(a.body, /limits\.ingest\.itemsPerSecond/);
      }
      // The first THRESHOLD refusals of the window drain the body and keep the connection, the later ones close it.
      assert.deepEqual(
        answers.map((a) => a.headers.connection === 'close'),
        answers.map((_, i) => i >= THRESHOLD),
      );
      assert.equal((await metric(gw, 'teleql_otlp_closed_unread_total')) - closedBefore, 3);
    } finally {
      agent.destroy();
    }
    // Another tenant is served, and nothing of the refused bodies was stored.
    const ok = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': 'quiet' }, body: JSON.stringify(spansJson([{ name: 'quiet-op', service: 'svc-quiet' }])) });
    assert.equal(ok.status, 200);
    await new Promise((r) => setTimeout(r, 100)); // the 20 ms batch
    const flood = await gqlData<{ spans: { nodes: unknown[] } }>(gw.graphqlUrl, '{ spans(first: 100, filter: { service: ["svc-flood"] }) { nodes { name } } }', {}, { 'x-scope-orgid': 'flood' });
    assert.ok(flood.spans.nodes.every((n) => (n as { name: string }).name.startsWith('first-')), 'only the admitted first request was stored');
    const quiet = await gqlData<{ spans: { nodes: { name: string }[] } }>(gw.graphqlUrl, '{ spans(first: 10) { nodes { name } } }', {}, { 'x-scope-orgid': 'quiet' });
    assert.deepEqual(quiet.spans.nodes.map((n) => n.name), ['quiet-op']);
  });

  test('past the threshold the body is left unread: a 48 MiB sender is answered and cut off long before it could send it all', async () => {
    const port = Number(new URL(gw.otlpHttp).port);
    const size = 48 * 1024 * 1024;
    // Use up the window's tolerated refusals with small requests on one connection.
    await makeOwe(gw, 'raw');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < THRESHOLD; i++) assert.equal((await post(`${gw.otlpHttp}/v1/traces`, 'raw', 1024, agent)).status, 429);
    } finally {
      agent.destroy();
    }
    const r = await rawPost(port, 'raw', size);
    assert.match(r.head, /^HTTP\/1\.1 429 /);
    assert.match(r.head, /\r\nconnection: close\r\n/i);
    assert.match(r.head, /\r\nretry-after: \d+\r\n/i);
    // Kernel buffers on loopback take a few MiB at most; a draining server would have taken all 48.
    assert.ok(r.written < size / 2, `the client could write ${r.written} of ${size} bytes`);
    // And the gateway still answers on new connections.
    const health = await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/healthz'));
    assert.equal(health.status, 200);
  });

  test('the real OTel HTTP exporter, which honours Retry-After, sees retryable 429s, never a closed connection, and gets its spans in', async () => {
    const failedBefore = await metric(gw, 'teleql_otlp_failed_requests_total', { reason: 'rate_limited' });
    const closedBefore = await metric(gw, 'teleql_otlp_closed_unread_total');
    // Three spans, exported one by one as they end (SimpleSpanProcessor): at 1 item/s most are refused first.
    const sent = await sendTrace('http-json', { otlpHttp: gw.otlpHttp, otlpGrpc: gw.otlpGrpc }, { service: 'svc-sdk', headers: { 'X-Scope-OrgID': 'sdk' } });
    assert.ok((await metric(gw, 'teleql_otlp_failed_requests_total', { reason: 'rate_limited' })) > failedBefore, 'the exporter was refused at least once');
    assert.equal(await metric(gw, 'teleql_otlp_closed_unread_total'), closedBefore, 'no refusal of the exporter closed its connection');
    await new Promise((r) => setTimeout(r, 100));
    const got = await gqlData<{ trace: { spans: { spanId: string }[] } | null }>(gw.graphqlUrl, 'query ($id: ID!) { trace(traceId: $id) { spans { spanId } } }', { id: sent.traceId }, { 'x-scope-orgid': 'sdk' });
    assert.deepEqual(got.trace?.spans.map((s) => s.spanId).sort(), [sent.rootSpanId, sent.childSpanId].sort());
  });
});
