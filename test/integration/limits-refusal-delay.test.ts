// limits.refusalDelay (the tarpit) on real gateways over real sockets: a tenant refused more than
// afterRefusals times in one Retry-After window gets its further refusals late — held unanswered
// while the gateway serves another tenant, then answered exactly as before (429 + Retry-After + the
// JSON body; RESOURCE_EXHAUSTED + retry-after). The caps answer at once, a client that goes away
// is forgotten, a stop answers every held request, and the real OTel exporters, which honour
// Retry-After, are never held. Everything is asserted by order and state, never by time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { spansJson, toProtobuf } from '../helpers/otlp-bodies.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { wsClient } from '../helpers/tail-client.ts';
import type { Client } from 'graphql-ws';
import { exportServiceDefinition } from '../../ingest/receivers/otlp/grpc.ts';

const AFTER = 2;

async function metric(gw: TestGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}
const held = (gw: TestGateway, transport: string) => metric(gw, 'teleql_refusals_held', { transport });
const delayed = (gw: TestGateway, transport: string) => metric(gw, 'teleql_refusals_delayed_total', { transport });
const untilHeld = (gw: TestGateway, transport: string, n: number) => waitFor(() => held(gw, transport), (v) => v === n, `${n} ${transport} refusals held`);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP request on its own connection; `answered` turns true when its whole answer is in. */
function request(url: string, tenant: string, body: string, contentType = 'application/json'): { answer: Promise<Answer>; answered: () => boolean; abort: () => void } {
  let done = false;
  const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), 'x-scope-orgid': tenant } });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        done = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() });
      });
    });
    req.on('error', reject);
  });
  req.end(body);
  return { answer, answered: () => done, abort: () => req.destroy() };
}

const spans = (tenant: string, n: number, prefix = 'op') => JSON.stringify(spansJson(Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, service: `svc-${tenant}` }))));
const postSpans = (gw: TestGateway, tenant: string, n = 1, prefix = 'op') => request(`${gw.otlpHttp}/v1/traces`, tenant, spans(tenant, n, prefix));
const query = (gw: TestGateway, tenant: string, q: string) => request(gw.graphqlUrl, tenant, JSON.stringify({ query: q }));

/** The tenant's first request, admitted on 1 item/s, carries 60 spans: it then owes ~60 s, so each later request is refused within one window. */
async function makeOwe(gw: TestGateway, tenant: string): Promise<void> {
  assert.equal((await postSpans(gw, tenant, 60, 'first').answer).status, 200);
}

/** Uses up the tenant's refusals answered at once in its window, checking they were not held. */
async function refusedAtOnce(gw: TestGateway, send: () => Promise<{ status: number } | { code: grpc.status }>, transport: string): Promise<void> {
  const before = await delayed(gw, transport);
  for (let i = 0; i < AFTER; i++) {
    const r = await send();
    assert.ok('status' in r ? r.status === 429 : r.code === grpc.status.RESOURCE_EXHAUSTED, `refusal ${i + 1} of the window, answered at once`);
  }
  assert.equal(await delayed(gw, transport), before, `the first ${AFTER} refusals of the window were not held`);
}

/**
 * A raw client that announces `size` bytes and writes the body as fast as the connection takes it:
 * the answer's head, and how many body bytes the kernel had accepted when it arrived.
 */
function rawPost(gw: TestGateway, tenant: string, size: number): Promise<{ head: string; writtenAtAnswer: number }> {
  return new Promise((resolve) => {
    const s = net.connect(Number(new URL(gw.otlpHttp).port), '127.0.0.1');
    let written = 0;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    s.on('error', () => {});
    s.once('data', (d: Buffer) => {
      resolve({ head: d.toString(), writtenAtAnswer: written });
      s.destroy();
    });
    s.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Scope-OrgID: ${tenant}\r\nContent-Length: ${size}\r\n\r\n`);
    const pump = () => {
      while (written < size && !s.destroyed) {
        written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    pump();
  });
}

/** One query over graphql-ws; its first result or its errors, and whether they are in. */
function wsQuery(client: Client, q: string): { answer: Promise<{ data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }>; answered: () => boolean } {
  let done = false;
  const answer = new Promise<{ data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }>((resolve) => {
    let result: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } = {};
    client.subscribe(
      { query: q },
      {
        next: (r) => void (result = r as typeof result),
        error: (err) => {
          done = true;
          resolve({ errors: Array.isArray(err) ? (err as { message: string }[]) : [{ message: String(err) }] });
        },
        complete: () => {
          done = true;
          resolve(result);
        },
      },
    );
  });
  return { answer, answered: () => done };
}

type ExportClient = grpc.Client & { Export(body: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void): grpc.ClientUnaryCall };

/** An OTLP/gRPC Export call that can be cancelled; `answered` turns true when its status is in. */
function grpcCall(gw: TestGateway, tenant: string, n = 1): { answer: Promise<grpc.ServiceError | null>; answered: () => boolean; cancel: () => void } {
  const Client = grpc.makeGenericClientConstructor(exportServiceDefinition('traces'), 'Export');
  const client = new Client(gw.otlpGrpc, grpc.credentials.createInsecure()) as unknown as ExportClient;
  const md = new grpc.Metadata();
  md.set('x-scope-orgid', tenant);
  let done = false;
  let call: grpc.ClientUnaryCall | undefined;
  const answer = new Promise<grpc.ServiceError | null>((resolve) => {
    call = client.Export(toProtobuf('traces', JSON.parse(spans(tenant, n))), md, (err) => {
      done = true;
      client.close();
      resolve(err);
    });
  });
  return { answer, answered: () => done, cancel: () => call?.cancel() };
}

describe('limits.refusalDelay: a flooding tenant gets its refusals late', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      receivers: { otlp: { maxRequestBytes: 64 * 1024 * 1024 } },
      limits: {
        ingest: { itemsPerSecond: 1, bytesPerSecond: 0 },
        // A query of cost 3,000 at 50/s owes ~60 s: its tenant's later queries are refused within one window.
        graphql: { costPerSecond: 50 },
        // Long enough that the checks below run while a refusal is held, even on a loaded machine.
        refusalDelay: { afterRefusals: AFTER, maxMs: 6_000, maxHeld: 100, maxHeldPerTenant: 3 },
      },
    });
  });
  after(() => gw.stop());

  test('OTLP/HTTP: past the threshold a 429 is held while another tenant is served, then arrives as before; good data of both is kept', async () => {
    await makeOwe(gw, 'flood');
    await refusedAtOnce(gw, () => postSpans(gw, 'flood', 1, 'refused').answer, 'otlp_http');
    const before = await delayed(gw, 'otlp_http');
    const late = postSpans(gw, 'flood', 1, 'refused');
    await untilHeld(gw, 'otlp_http', 1);
    // While the flooder waits, another tenant's ingest and query are served.
    assert.equal((await postSpans(gw, 'quiet', 1, 'quiet-op').answer).status, 200);
    await waitFor(() => gqlData<{ spans: { nodes: { name: string }[] } }>(gw.graphqlUrl, '{ spans(first: 1) { nodes { name } } }', {}, { 'x-scope-orgid': 'quiet' }), (d) => d.spans.nodes.length === 1, 'the quiet tenant\'s span');
    assert.equal(late.answered(), false, 'the flooder\'s refusal is still held');
    const a = await late.answer;
    assert.equal(a.status, 429);
    assert.ok(Number(a.headers['retry-after']) >= 30, 'the Retry-After of what is owed');
    assert.match(a.headers['content-type'] ?? '', /application\/json/);
    assert.match(JSON.parse(a.body).message as string, /limits\.ingest\.itemsPerSecond/);
    assert.equal(await held(gw, 'otlp_http'), 0);
    assert.equal(await delayed(gw, 'otlp_http'), before + 1);
    const flood = await gqlData<{ spans: { nodes: { name: string }[] } }>(gw.graphqlUrl, '{ spans(first: 100) { nodes { name } } }', {}, { 'x-scope-orgid': 'flood' });
    assert.equal(flood.spans.nodes.length, 60, 'the flooder\'s admitted request is stored, none of its refused ones');
    assert.ok(flood.spans.nodes.every((n) => n.name.startsWith('first-')));
  });

  test('OTLP/HTTP: beyond maxHeldPerTenant a refusal is answered at once, while the others stay held', async () => {
    await makeOwe(gw, 'capped');
    await refusedAtOnce(gw, () => postSpans(gw, 'capped').answer, 'otlp_http');
    const cappedBefore = await metric(gw, 'teleql_refusals_hold_capped_total', { transport: 'otlp_http' });
    const heldOnes = [1, 2, 3].map(() => postSpans(gw, 'capped'));
    await untilHeld(gw, 'otlp_http', 3);
    const fourth = await postSpans(gw, 'capped').answer;
    assert.equal(fourth.status, 429);
    assert.match(fourth.body, /limits\.ingest\.itemsPerSecond/);
    assert.deepEqual(heldOnes.map((h) => h.answered()), [false, false, false], 'the 4th was answered while the 3 held ones waited');
    assert.equal(await held(gw, 'otlp_http'), 3);
    assert.equal(await metric(gw, 'teleql_refusals_hold_capped_total', { transport: 'otlp_http' }), cappedBefore + 1);
    const answers = await Promise.all(heldOnes.map((h) => h.answer));
    assert.deepEqual(answers.map((a) => a.status), [429, 429, 429]);
  });

  test('OTLP/HTTP: a held request\'s body is not read while it is held: a 48 MiB sender gets its late 429 having sent a fraction', async () => {
    const size = 48 * 1024 * 1024;
    await makeOwe(gw, 'big');
    await refusedAtOnce(gw, () => postSpans(gw, 'big').answer, 'otlp_http');
    const r = rawPost(gw, 'big', size);
    await untilHeld(gw, 'otlp_http', 1);
    const { head, writtenAtAnswer } = await r;
    assert.match(head, /^HTTP\/1\.1 429 /);
    assert.match(head, /\r\nretry-after: \d+\r\n/i);
    // Kernel buffers on loopback take a few MiB at most; a reading server would have taken all 48 during the hold.
    assert.ok(writtenAtAnswer < size / 2, `the client could write ${writtenAtAnswer} of ${size} bytes while held`);
  });

  test('OTLP/gRPC: past the threshold RESOURCE_EXHAUSTED is held at metadata, then arrives with retry-after', async () => {
    await makeOwe(gw, 'grpc-flood');
    await refusedAtOnce(gw, () => grpcCall(gw, 'grpc-flood').answer.then((e) => ({ code: e?.code ?? grpc.status.OK })), 'otlp_grpc');
    const late = grpcCall(gw, 'grpc-flood');
    await untilHeld(gw, 'otlp_grpc', 1);
    assert.equal((await postSpans(gw, 'grpc-quiet').answer).status, 200, 'another tenant is served meanwhile');
    assert.equal(late.answered(), false);
    const err = await late.answer;
    assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(err.details, /limits\.ingest\.itemsPerSecond/);
    assert.ok(Number(err.metadata.get('retry-after')[0]) >= 30);
    assert.equal(await held(gw, 'otlp_grpc'), 0);
  });

  test('GraphQL: past the threshold a GW_RATE_LIMITED 429 is held while another tenant queries, then arrives as before', async () => {
    const q = '{ spans(first: 1000) { nodes { name } } }';
    assert.equal((await query(gw, 'gflood', q).answer).status, 200);
    await refusedAtOnce(gw, () => query(gw, 'gflood', q).answer, 'graphql');
    const late = query(gw, 'gflood', q);
    await untilHeld(gw, 'graphql', 1);
    assert.equal((await gql(gw.graphqlUrl, '{ spans(first: 1) { nodes { name } } }', {}, { 'x-scope-orgid': 'gquiet' })).status, 200);
    assert.equal(late.answered(), false);
    const a = await late.answer;
    assert.equal(a.status, 429);
    assert.ok(Number(a.headers['retry-after']) >= 30, 'the Retry-After of what is owed');
    const body = JSON.parse(a.body) as { errors: { message: string; extensions: { code: string } }[] };
    assert.equal(body.errors[0]?.extensions.code, 'GW_RATE_LIMITED');
    assert.match(body.errors[0]!.message, /limits\.graphql\.costPerSecond/);
  });

  test('graphql-ws: past the threshold a rate-limited operation\'s errors come late, while another tenant queries', async () => {
    const q = '{ spans(first: 1000) { nodes { name } } }';
    const client = wsClient(gw, 'wsflood');
    try {
      assert.equal((await wsQuery(client, q).answer).errors, undefined, 'the first query is admitted');
      await refusedAtOnce(gw, async () => {
        const r = await wsQuery(client, q).answer;
        return { status: r.errors?.[0]?.extensions?.code === 'GW_RATE_LIMITED' ? 429 : 200 };
      }, 'graphql');
      const late = wsQuery(client, q);
      await untilHeld(gw, 'graphql', 1);
      assert.equal((await gql(gw.graphqlUrl, '{ spans(first: 1) { nodes { name } } }', {}, { 'x-scope-orgid': 'wsquiet' })).status, 200);
      assert.equal(late.answered(), false);
      const r = await late.answer;
      assert.equal(r.errors?.[0]?.extensions?.code, 'GW_RATE_LIMITED');
      assert.match(r.errors[0]!.message, /limits\.graphql\.costPerSecond/);
      assert.equal(await held(gw, 'graphql'), 0);
    } finally {
      await client.dispose();
    }
  });

  test('the real OTel HTTP exporter, which honours Retry-After, is refused but never held, and its spans arrive', async () => {
    const failedBefore = await metric(gw, 'teleql_otlp_failed_requests_total', { reason: 'rate_limited' });
    const delayedBefore = await delayed(gw, 'otlp_http');
    const sent = await sendTrace('http-json', { otlpHttp: gw.otlpHttp, otlpGrpc: gw.otlpGrpc }, { service: 'svc-sdk', headers: { 'X-Scope-OrgID': 'sdk-http' } });
    assert.ok((await metric(gw, 'teleql_otlp_failed_requests_total', { reason: 'rate_limited' })) > failedBefore, 'the exporter was refused at least once');
    assert.equal(await delayed(gw, 'otlp_http'), delayedBefore, 'none of its refusals was held');
    const got = await waitFor(
      () => gqlData<{ trace: { spans: { spanId: string }[] } | null }>(gw.graphqlUrl, 'query ($id: ID!) { trace(traceId: $id) { spans { spanId } } }', { id: sent.traceId }, { 'x-scope-orgid': 'sdk-http' }),
      (d) => (d.trace?.spans.length ?? 0) >= 2,
      'the exporter\'s spans',
    );
    assert.deepEqual(got.trace?.spans.map((s) => s.spanId).sort(), [sent.rootSpanId, sent.childSpanId].sort());
  });

  test('the real OTel gRPC exporter gets its RESOURCE_EXHAUSTED at once, never held', async () => {
    // This exporter version does not retry gRPC errors: each export is one call, exported as spans
    // end, so it sends no more than its exports and stays under the threshold.
    const delayedBefore = await delayed(gw, 'otlp_grpc');
    const failedBefore = await metric(gw, 'teleql_otlp_failed_requests_total', { reason: 'rate_limited' });
    const outcome = await sendTrace('grpc', { otlpHttp: gw.otlpHttp, otlpGrpc: gw.otlpGrpc }, { service: 'svc-sdk', headers: { 'X-Scope-OrgID': 'sdk-grpc' } }).then(
      () => [] as unknown[],
      (err: unknown) => (Array.isArray(err) ? err : [err]),
    );
    assert.ok((await metric(gw, 'teleql_otlp_failed_requests_total', { reason: 'rate_limited' })) > failedBefore, 'the exporter was refused at least once');
    assert.ok(outcome.length > 0 && outcome.every((e) => (e as { code?: number }).code === grpc.status.RESOURCE_EXHAUSTED), `the exporter saw RESOURCE_EXHAUSTED: ${String(outcome)}`);
    assert.equal(await delayed(gw, 'otlp_grpc'), delayedBefore, 'none of its refusals was held');
    const got = await waitFor(() => gqlData<{ spans: { nodes: unknown[] } }>(gw.graphqlUrl, '{ spans(first: 1) { nodes { name } } }', {}, { 'x-scope-orgid': 'sdk-grpc' }), (d) => d.spans.nodes.length > 0, 'the admitted span');
    assert.equal(got.spans.nodes.length, 1);
  });
});

describe('limits.refusalDelay: clients that go away, and shutdown', () => {
  let gw: TestGateway;
  let stopped = false;
  before(async () => {
    gw = await startGateway({
      limits: {
        ingest: { itemsPerSecond: 1, bytesPerSecond: 0 },
        // One query costing ~300 at 5/s: the tenant then owes ~60 s, so its refusals are held for maxMs.
        graphql: { costPerSecond: 5 },
        // Longer than any test here: a refusal only comes back early by a drop or the stop.
        refusalDelay: { afterRefusals: AFTER, maxMs: 60_000, maxHeld: 100, maxHeldPerTenant: 10 },
      },
    });
  });
  after(() => (stopped ? undefined : gw.stop()));
  const q = '{ spans(first: 100) { nodes { name } } }';
  const owe = async (tenant: string) => {
    assert.equal((await query(gw, tenant, q).answer).status, 200);
    await refusedAtOnce(gw, () => query(gw, tenant, q).answer, 'graphql');
  };

  test('GraphQL: a held request whose client goes away is forgotten', async () => {
    await owe('leaver');
    const r = query(gw, 'leaver', q);
    r.answer.catch(() => {});
    await untilHeld(gw, 'graphql', 1);
    r.abort();
    await untilHeld(gw, 'graphql', 0);
  });

  test('OTLP/gRPC: a held call that the client cancels is forgotten', async () => {
    await makeOwe(gw, 'canceller');
    await refusedAtOnce(gw, () => grpcCall(gw, 'canceller').answer.then((e) => ({ code: e?.code ?? grpc.status.OK })), 'otlp_grpc');
    const c = grpcCall(gw, 'canceller');
    await untilHeld(gw, 'otlp_grpc', 1);
    c.cancel();
    assert.equal((await c.answer)?.code, grpc.status.CANCELLED);
    await untilHeld(gw, 'otlp_grpc', 0);
  });

  test('stopping the gateway answers every held request at once, as refused', async () => {
    await makeOwe(gw, 'stopper');
    await refusedAtOnce(gw, () => postSpans(gw, 'stopper').answer, 'otlp_http');
    // The grpc tenant shares the ingest budget's window with its HTTP refusals above.
    const httpHeld = postSpans(gw, 'stopper');
    const grpcHeld = grpcCall(gw, 'stopper');
    await owe('stopper-q');
    const gqlHeld = query(gw, 'stopper-q', q);
    await untilHeld(gw, 'otlp_http', 1);
    await untilHeld(gw, 'otlp_grpc', 1);
    await untilHeld(gw, 'graphql', 1);
    stopped = true;
    const [, httpAnswer, grpcAnswer, gqlAnswer] = await Promise.all([gw.stop(), httpHeld.answer, grpcHeld.answer, gqlHeld.answer]);
    assert.equal(httpAnswer.status, 429);
    assert.match(httpAnswer.body, /limits\.ingest\.itemsPerSecond/);
    assert.equal(grpcAnswer?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(gqlAnswer.status, 429);
    assert.match(gqlAnswer.body, /GW_RATE_LIMITED/);
  });
});
