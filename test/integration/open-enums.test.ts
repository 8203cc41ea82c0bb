// proto3 enums are open: a span kind of 9 or a log severity number of 30 (a newer SDK's, a
// vendor's) is accepted over OTLP/HTTP protobuf and JSON, as the Collector accepts it, stored as
// sent, and read back in GraphQL as the nearest value the schema names: the kind as UNSPECIFIED
// (which a kind filter on UNSPECIFIED finds), the severity number as sent with the level FATAL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { randomSpanId, randomTraceId, toProtobuf } from '../helpers/otlp-bodies.ts';
import { otlpProto } from '../../src/otlp/proto.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SERVICE = 'enum-future';
const now = BigInt(Date.now()) * 1_000_000n;

const spansRequest = (spans: { name: string; kind: number }[]) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: SERVICE } }] },
      scopeSpans: [
        {
          spans: spans.map((s, i) => ({
            traceId: randomTraceId(),
            spanId: randomSpanId(),
            name: s.name,
            kind: s.kind,
            startTimeUnixNano: String(now - BigInt(i + 1) * 1_000_000n),
            endTimeUnixNano: String(now),
          })),
        },
      ],
    },
  ],
});

const logsRequest = (severities: number[]) => ({
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: SERVICE } }] },
      scopeLogs: [{ logRecords: severities.map((severityNumber) => ({ timeUnixNano: String(now), severityNumber, body: { stringValue: `severity ${severityNumber}` } })) }],
    },
  ],
});

async function post(url: string, body: Buffer | string, contentType: string): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  assert.equal(res.status, 200);
  return contentType === 'application/json' ? res.json() : null;
}

describe('span kinds and severity numbers outside the documented values', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
    // Protobuf: kind 9 (encode keeps a number the enum does not name), and a known kind beside it.
    const type = otlpProto().request.traces;
    const proto = toProtobuf('traces', spansRequest([{ name: 'GET /future', kind: 2 }]));
    const withNine = type.decode(proto) as unknown as { resourceSpans: { scopeSpans: { spans: { kind: number }[] }[] }[] };
    withNine.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.kind = 9;
    await post(`${gw.otlpHttp}/v1/traces`, Buffer.from(type.encode(withNine).finish()), 'application/x-protobuf');
    const partial = await post(
      `${gw.otlpHttp}/v1/traces`,
      JSON.stringify(spansRequest([{ name: 'GET /future', kind: 0 }, { name: 'GET /vendor', kind: 42 }, { name: 'GET /known', kind: 2 }])),
      'application/json',
    );
    assert.deepEqual(partial, {}, 'nothing rejected');
    await post(`${gw.otlpHttp}/v1/logs`, toProtobuf('logs', logsRequest([30])), 'application/x-protobuf');
    await post(`${gw.otlpHttp}/v1/logs`, JSON.stringify(logsRequest([25, 9])), 'application/json');
    await waitFor(
      () => gqlData<{ spans: { edges: unknown[] }; logs: { edges: unknown[] } }>(gw.graphqlUrl, `{ spans(filter: { service: ["${SERVICE}"] }) { edges { cursor } } logs { edges { cursor } } }`),
      (d) => d.spans.edges.length === 4 && d.logs.edges.length === 3,
      'the spans and logs to be stored',
    );
  });
  after(() => gw?.stop());

  test('a kind SpanKind does not name reads as UNSPECIFIED, and a filter on UNSPECIFIED finds it', async () => {
    const kinds = async (filter: string) =>
      (await gqlData<{ spans: { edges: { node: { name: string; kind: string } }[] } }>(gw.graphqlUrl, `{ spans(filter: { service: ["${SERVICE}"]${filter} }, order: OLDEST_FIRST) { edges { node { name kind } } } }`)).spans.edges
        .map((e) => `${e.node.name} ${e.node.kind}`)
        .sort();
    // GET /future: kind 9 over protobuf, kind 0 over JSON; GET /vendor: kind 42.
    assert.deepEqual(await kinds(''), ['GET /future UNSPECIFIED', 'GET /future UNSPECIFIED', 'GET /known SERVER', 'GET /vendor UNSPECIFIED']);
    assert.deepEqual(await kinds(', kind: [UNSPECIFIED]'), ['GET /future UNSPECIFIED', 'GET /future UNSPECIFIED', 'GET /vendor UNSPECIFIED']);
    assert.deepEqual(await kinds(', kind: [SERVER]'), ['GET /known SERVER']);
    const ops = await gqlData<{ operations: { name: string; kind: string }[] }>(gw.graphqlUrl, `{ operations(service: "${SERVICE}") { name kind } }`);
    assert.deepEqual(ops.operations, [
      { name: 'GET /future', kind: 'UNSPECIFIED' },
      { name: 'GET /known', kind: 'SERVER' },
      { name: 'GET /vendor', kind: 'UNSPECIFIED' },
    ]);
  });

  test('a severity number past 24 reads back as sent, at the level FATAL, which a FATAL filter finds', async () => {
    const logs = async (filter: string) =>
      (await gqlData<{ logs: { edges: { node: { severityNumber: number; severity: string | null } }[] } }>(gw.graphqlUrl, `{ logs(filter: { service: ["${SERVICE}"]${filter} }) { edges { node { severityNumber severity } } } }`)).logs.edges
        .map((e) => [e.node.severityNumber, e.node.severity])
        .sort((a, b) => (a[0] as number) - (b[0] as number));
    assert.deepEqual(await logs(''), [[9, 'INFO'], [25, 'FATAL'], [30, 'FATAL']]);
    assert.deepEqual(await logs(', minSeverityLevel: FATAL'), [[25, 'FATAL'], [30, 'FATAL']]);
  });
});
