// tailSpans(since:) with traces read from Jaeger: the spans' pipeline writes DuckDB first, and the
// replay reads DuckDB, whose writes it waits for, so a span received just before the subscription
// is replayed (Jaeger would have it only once the exporter's queue reached it, if at all) and
// nothing is sent twice. A local server answers with Jaeger's real api_v3 documents
// (../shared/fixtures/jaeger): a FindTraces that finds nothing, as a Jaeger the exporter has not
// reached yet would answer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'graphql-ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { hex, nowNs, postOtlp, spansBody, tail, wsClient } from '../helpers/tail-client.ts';

const FIXTURES = new URL('../../../shared/fixtures/jaeger/api-v3/', import.meta.url).pathname;
const TAIL_SPANS = `subscription($filter: TelemetryFilter, $since: Timestamp) {
  tailSpans(filter: $filter, since: $since) { replayed span { spanId name } }
}`;
interface SpanEvent {
  tailSpans: { replayed: boolean; span: { spanId: string; name: string } };
}
const TENANT = 'jaeger-replay';
const TRACE_ID = 'ab000000000000000000000000000001';
const isoOf = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();

let jaeger: FixtureServer;
let gw: TestGateway;
let client: Client | undefined;

before(async () => {
  jaeger = await startFixtureServer([
    { method: 'GET', path: '/api/v3/traces', status: 404, headers: { 'content-type': 'application/json' }, bodyFile: `${FIXTURES}error.404.no-traces-found.json` },
  ]);
  gw = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: jaeger.url } } });
});
after(async () => {
  await client?.dispose();
  await gw?.stop();
  await jaeger?.close();
});

test('with traces read from Jaeger, a since replay reads the spans DuckDB was written, then live ones follow, each once', async () => {
  const base = nowNs() - 10_000_000_000n;
  const spans = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ traceId: TRACE_ID, spanId: hex(from + i, 16), name: `op-${from + i}`, startNs: base + BigInt(from + i) * 1_000_000n }));
  // Received right before the subscription: in no Jaeger yet.
  assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jaeger-replay-svc', spans(1, 3)), TENANT), 200);
  client = wsClient(gw, TENANT);
  const t = tail<SpanEvent>(client, TAIL_SPANS, { filter: { service: ['jaeger-replay-svc'] }, since: isoOf(base) });
  await waitFor(async () => t.events.length + t.errors.length, (n) => n >= 3, 'the replay');
  assert.equal(await postOtlp(gw, '/v1/traces', spansBody('jaeger-replay-svc', spans(4, 2)), TENANT), 200);
  await waitFor(async () => t.events.length + t.errors.length, (n) => n >= 5, 'the live spans');
  t.stop();
  assert.deepEqual(t.errors, []);
  assert.deepEqual(t.events.map((e) => [e.tailSpans.replayed, e.tailSpans.span.name]), [
    [true, 'op-1'], [true, 'op-2'], [true, 'op-3'], [false, 'op-4'], [false, 'op-5'],
  ]);
  assert.equal(jaeger.requests.filter((r) => r.path.startsWith('/api/v3/traces')).length, 0, 'the replay did not search Jaeger');
});
