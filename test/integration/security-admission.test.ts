// Ingest admission on a real gateway: a tenant over its rate budget is refused before its body is
// decoded (by the declared size and an item estimate), and a refused body still being sent gets
// its 401/429 answer rather than a connection reset, on a connection that stays usable.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';
import { spansJson, toProtobuf } from '../helpers/otlp-bodies.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';

const KEY = 'ingest-key-of-tenant-a-0123456789';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** POSTs `size` bytes in 64 KiB chunks, one per event-loop turn, so the server answers while we still send. */
function postSlowly(url: string, headers: Record<string, string>, size: number, agent: http.Agent, chunked = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, ...(!chunked && { 'content-length': String(size) }) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject); // ECONNRESET lands here and fails the test
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', () => setImmediate(pump));
      }
      req.end();
    };
    pump();
  });
}

describe('refused ingest bodies are answered, not reset', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      auth: { mode: 'apiKey', apiKeys: [{ name: 'ingest-a', hash: hashApiKey(KEY), tenant: 'tenant-a', scopes: ['ingest'] }] },
      // Node's http client stops sending a body once the answer to it is complete, until the server
      // ends the kept-alive connection as idle: 1 s here instead of the default 5 s per request.
      limits: { connections: { httpKeepAliveTimeoutMs: 1000 } },
    });
  });
  after(() => gw.stop());

  test('a wrong key with an 8 MiB body still being sent gets 401, and the kept-alive connection serves the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const url = `${gw.otlpHttp}/v1/traces`;
      for (let i = 0; i < 3; i++) {
        const r = await postSlowly(url, { 'content-type': 'application/json', 'x-api-key': 'wrong-key-0123456789' }, 8 * 1024 * 1024, agent);
        assert.equal(r.status, 401);
        assert.equal(r.headers['www-authenticate'], 'Bearer');
        assert.notEqual(r.headers.connection, 'close', 'a body of known length is skipped and the connection kept');
      }
      const body = JSON.stringify(spansJson([{ name: 'after-refusals' }]));
      const ok = await postSlowly(url, { 'content-type': 'application/json', 'x-api-key': KEY }, 0, agent).catch((e: unknown) => e);
      // An empty JSON body is a 400 from the decoder: it proves the same connection reached the handler.
      assert.equal((ok as Answer).status, 400);
      const good = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body });
      assert.equal(good.status, 200);
    } finally {
      agent.destroy();
    }
  });

  test('a wrong key with a chunked body of unknown length gets 401 and Connection: close, without a reset', async () => {
    const agent = new http.Agent({ keepAlive: false });
    try {
      const r = await postSlowly(`${gw.otlpHttp}/v1/traces`, { 'content-type': 'application/json', 'x-api-key': 'wrong-key-0123456789' }, 4 * 1024 * 1024, agent, true);
      assert.equal(r.status, 401);
      assert.equal(r.headers.connection, 'close');
    } finally {
      agent.destroy();
    }
  });

  test('fetch (undici) with a large body and no credentials gets 401, not a socket error', async () => {
    const body = new Uint8Array(6 * 1024 * 1024).fill(0x20);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(r.status, 401);
      await r.arrayBuffer();
    }
  });
});

describe('ingest limits are charged before decoding', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { ingest: { itemsPerSecond: 100, bytesPerSecond: 0 } } });
  });
  after(() => gw.stop());

  const post = (tenant: string, body: string | Uint8Array<ArrayBuffer>) =>
    fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant }, body });

  test('a tenant whose estimate is over budget is refused with 429 before its (undecodable) body is parsed', async () => {
    const valid = JSON.stringify(spansJson(Array.from({ length: 60 }, (_, i) => ({ name: `op-${i}` }))));
    // Same size, not JSON: decoding it would answer 400, so a 429 shows it was refused unread.
    const garbage = new Uint8Array(Buffer.byteLength(valid)).fill(0x7b);
    const statuses: number[] = [];
    for (let i = 0; i < 5 && !statuses.includes(429); i++) {
      const first = await post('estimated', valid);
      assert.ok([200, 429].includes(first.status), `valid request: ${first.status}`);
      await first.arrayBuffer();
      const second = await post('estimated', garbage);
      statuses.push(second.status);
      if (second.status === 429) {
        assert.match(second.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
        assert.match(((await second.json()) as { message: string }).message, /limits\.ingest\.itemsPerSecond of 100/);
      } else await second.arrayBuffer();
    }
    assert.ok(statuses.includes(429), `statuses: ${statuses.join(',')}`);
    // Another tenant is unaffected (and its garbage is decoded and refused as such).
    assert.equal((await post('quiet', garbage)).status, 400);
  });

  test('gRPC: an exhausted tenant gets RESOURCE_EXHAUSTED for an undecodable message (refused by its raw length)', async () => {
    const valid = toProtobuf('traces', spansJson(Array.from({ length: 100 }, (_, i) => ({ name: `op-${i}` }))));
    const garbage = Buffer.alloc(valid.length, 0xff);
    const codes: grpc.status[] = [];
    for (let i = 0; i < 5 && !codes.includes(grpc.status.RESOURCE_EXHAUSTED); i++) {
      await grpcExport(gw.otlpGrpc, 'traces', valid, { 'x-scope-orgid': 'grpc-flooder' });
      codes.push((await grpcExport(gw.otlpGrpc, 'traces', garbage, { 'x-scope-orgid': 'grpc-flooder' })).code);
    }
    assert.ok(codes.includes(grpc.status.RESOURCE_EXHAUSTED), `codes: ${codes.join(',')}`);
    assert.equal((await grpcExport(gw.otlpGrpc, 'traces', garbage, { 'x-scope-orgid': 'grpc-quiet' })).code, grpc.status.INVALID_ARGUMENT);
  });
});
