// What OTLP/JSON sent to a real gateway reads back as over GraphQL, for the cases QA round 30's
// fidelity report found wrong: a duplicate attribute key (the last wins everywhere, D1; and a key
// named __proto__, which a plain object assignment lost), an int64 near
// INT64_MAX as a JSON number in a resource or scope (read exactly, D2), lone UTF-16 surrogates
// (U+FFFD in every field, D3), the typed forms of a log body, exemplar filtered attributes and metric
// metadata (D4), and −0 in the lossless forms (D6).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gqlData } from '../helpers/graphql-client.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';

type Json = Record<string, unknown>;

const TRACE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const now = () => String(BigInt(Date.now()) * 1_000_000n);

let gw: TestGateway;
before(async () => {
  gw = await startGateway();
});
after(() => gw?.stop());

/** Posts an OTLP/JSON body as text (so that it can hold what JSON.stringify would not write). */
async function post(signal: 'traces' | 'logs' | 'metrics', text: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${gw.otlpHttp}/v1/${signal}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  return { status: res.status, body: (await res.json()) as Json };
}

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const traces = (resourceAttrs: unknown[], scope: Json, spans: Json[]) =>
  JSON.stringify({ resourceSpans: [{ resource: { attributes: resourceAttrs }, scopeSpans: [{ scope, spans }] }] });
const span = (spanId: string, extra: Json = {}) => ({ traceId: TRACE, spanId, name: 'op', startTimeUnixNano: now(), endTimeUnixNano: now(), ...extra });

async function readSpan<T>(spanId: string, fields: string): Promise<T> {
  const q = `query($t: ID!, $s: ID!) { span(traceId: $t, spanId: $s) { ${fields} } }`;
  const data = await waitFor(() => gqlData<{ span: T | null }>(gw.graphqlUrl, q, { t: TRACE, s: spanId }), (d) => d.span !== null, `span ${spanId}`);
  return data.span!;
}

describe('duplicate attribute keys', () => {
  test('the last value wins in attribute(key:), service, the service filter and attributes alike', async () => {
    const body = traces([str('service.name', 'dupA'), str('service.name', 'dupB')], { name: 's' }, [
      span('0000000000000d01', { attributes: [str('dup', 'first'), { key: 'dup', value: { intValue: '2' } }] }),
    ]);
    assert.equal((await post('traces', body)).status, 200);
    const s = await readSpan<Json>('0000000000000d01', 'service attribute(key: "dup") attributes resource { serviceName attribute(key: "service.name") } typedAttributes { key otlpValue }');
    assert.deepEqual(s, {
      service: 'dupB',
      attribute: 2,
      attributes: { dup: 2 },
      resource: { serviceName: 'dupB', attribute: 'dupB' },
      typedAttributes: [{ key: 'dup', otlpValue: { stringValue: 'first' } }, { key: 'dup', otlpValue: { intValue: '2' } }],
    });
    const q = `query($svc: [String!]!) { spans(filter: { service: $svc }) { nodes { spanId } } }`;
    const found = async (svc: string) => (await gqlData<{ spans: { nodes: { spanId: string }[] } }>(gw.graphqlUrl, q, { svc: [svc] })).spans.nodes.map((n) => n.spanId);
    assert.deepEqual(await found('dupB'), ['0000000000000d01']);
    assert.deepEqual(await found('dupA'), []);
  });
});

describe('attribute keys', () => {
  test('an attribute named __proto__ reads as any other, in attributes and in a kvlist', async () => {
    const kv = { kvlistValue: { values: [{ key: '__proto__', value: { stringValue: 'inner' } }] } };
    const body = traces([str('service.name', 'proto')], { name: 's' }, [span('0000000000000d02', { attributes: [{ key: '__proto__', value: kv }, str('after', 'x')] })]);
    assert.equal((await post('traces', body)).status, 200);
    const s = await readSpan<Json>('0000000000000d02', 'attributes attribute(key: "__proto__")');
    const inner = JSON.parse('{"__proto__":"inner"}') as Json; // an own property, as a literal cannot write it
    assert.deepEqual(s, { attributes: JSON.parse('{"__proto__":{"__proto__":"inner"},"after":"x"}') as Json, attribute: inner });
    assert.deepEqual(Object.keys(s.attributes as Json), ['__proto__', 'after']);
  });
});

describe('int64 as a JSON number', () => {
  test('2^63 − 1 in a resource or scope attribute is read exactly, as in a span attribute', async () => {
    // Written by hand: JSON.stringify cannot write a number past 2^53 exactly.
    const big = '{"key":"big","value":{"intValue":9223372036854775807}}';
    const body = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"int64"}},${big}]},"scopeSpans":[{"scope":{"name":"s","attributes":[${big}]},"spans":[${JSON.stringify(span('0000000000000e01')).slice(0, -1)},"attributes":[${big}]}]}]}]}`;
    const res = await post('traces', body);
    assert.deepEqual(res, { status: 200, body: {} });
    const exact = [{ key: 'big', otlpValue: { intValue: '9223372036854775807' } }];
    const s = await readSpan<Json>('0000000000000e01', 'typedAttributes { key otlpValue } scope { typedAttributes { key otlpValue } } resource { typedAttributes { key otlpValue } }');
    assert.deepEqual(s.typedAttributes, exact);
    assert.deepEqual((s.scope as Json).typedAttributes, exact);
    assert.deepEqual(((s.resource as Json).typedAttributes as unknown[])[1], exact[0]);
  });

  test('a resource attribute out of int64 range refuses the request naming the value sent, not the one JSON.parse rounded it to', async () => {
    // 2^63 + 1 rounds to 2^63 as a double.
    const body = `{"resourceSpans":[{"resource":{"attributes":[{"key":"big","value":{"intValue":9223372036854775809}}]},"scopeSpans":[{"spans":[${JSON.stringify(span('0000000000000e02'))}]}]}]}`;
    const res = await post('traces', body);
    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'resource attribute "big": intValue must be an integer from -9223372036854775808 to 9223372036854775807, got 9223372036854775809');
  });
});

describe('lone UTF-16 surrogates in OTLP/JSON', () => {
  test('read as U+FFFD in every field, as invalid UTF-8 does; a surrogate pair is kept', async () => {
    // JSON escapes, as text: "\ud800" is a lone high surrogate, "\udc00" a lone low one.
    const body = String.raw`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"lone"}},{"key":"r","value":{"stringValue":"r\ud800x"}}]},"scopeSpans":[{"scope":{"name":"s\uD800x"},"spans":[{"traceId":"${TRACE}","spanId":"0000000000000f01","name":"n\ud800x","startTimeUnixNano":"${now()}","endTimeUnixNano":"${now()}","status":{"code":2,"message":"m\udc00"},"attributes":[{"key":"k\udc00","value":{"arrayValue":{"values":[{"stringValue":"v\ud800x"},{"kvlistValue":{"values":[{"key":"n\udbff","value":{"stringValue":"\udfff"}}]}}]}}},{"key":"pair","value":{"stringValue":"\ud83d\ude00"}}],"events":[{"name":"e\ud800x","timeUnixNano":"${now()}"}]}]}]}]}`;
    assert.equal((await post('traces', body)).status, 200);
    const s = await readSpan<Json>('0000000000000f01', 'name status { message } attributes events { name } scope { name } resource { attributes }');
    assert.deepEqual(s, {
      name: 'n\ufffdx',
      status: { message: 'm\ufffd' },
      attributes: { 'k\ufffd': ['v\ufffdx', { 'n\ufffd': '\ufffd' }], pair: '\u{1F600}' },
      events: [{ name: 'e\ufffdx' }],
      scope: { name: 's\ufffdx' },
      resource: { attributes: { 'service.name': 'lone', r: 'r\ufffdx' } },
    });
  });
});

describe('typed forms of log bodies, exemplar filtered attributes and metric metadata', () => {
  test('otlpBody tells apart bodies that read the same as plain JSON, and keeps -0', async () => {
    const bodies: [string, unknown][] = [
      ['int', { intValue: '9007199254740993' }],
      ['string', { stringValue: '9007199254740993' }],
      ['bytes', { bytesValue: 'AAEC/w==' }],
      ['nan', { doubleValue: 'NaN' }],
      ['nanString', { stringValue: 'NaN' }],
      ['two', { doubleValue: 2 }],
      ['twoInt', { intValue: '2' }],
      ['negZero', { doubleValue: '-0' }],
      ['nested', { kvlistValue: { values: [{ key: 'z', value: { doubleValue: '-0' } }, { key: 'i', value: { intValue: '1' } }] } }],
      ['empty', {}],
      ['none', undefined],
    ];
    const logRecords = bodies.map(([c, body]) => ({ timeUnixNano: now(), attributes: [str('c', c)], ...(body !== undefined && { body }) }));
    const res = await post('logs', JSON.stringify({ resourceLogs: [{ resource: { attributes: [str('service.name', 'bodies')] }, scopeLogs: [{ logRecords }] }] }));
    assert.deepEqual(res, { status: 200, body: {} });
    const q = `{ logs(filter: { service: ["bodies"] }, first: 100) { nodes { c: attribute(key: "c") body otlpBody } } }`;
    const data = await waitFor(() => gqlData<{ logs: { nodes: { c: string; body: unknown; otlpBody: unknown }[] } }>(gw.graphqlUrl, q), (d) => d.logs.nodes.length === bodies.length, 'the logs');
    const read = Object.fromEntries(data.logs.nodes.map((n) => [n.c, { body: n.body, otlpBody: n.otlpBody }]));
    assert.deepEqual(read, {
      int: { body: '9007199254740993', otlpBody: { intValue: '9007199254740993' } },
      string: { body: '9007199254740993', otlpBody: { stringValue: '9007199254740993' } },
      bytes: { body: 'AAEC/w==', otlpBody: { bytesValue: 'AAEC/w==' } },
      nan: { body: 'NaN', otlpBody: { doubleValue: 'NaN' } },
      nanString: { body: 'NaN', otlpBody: { stringValue: 'NaN' } },
      two: { body: 2, otlpBody: { doubleValue: 2 } },
      twoInt: { body: 2, otlpBody: { intValue: '2' } },
      negZero: { body: 0, otlpBody: { doubleValue: '-0' } },
      nested: { body: { z: 0, i: 1 }, otlpBody: { kvlistValue: { values: [{ key: 'z', value: { doubleValue: '-0' } }, { key: 'i', value: { intValue: '1' } }] } } },
      empty: { body: null, otlpBody: null },
      none: { body: null, otlpBody: null },
    });
  });

  test('Exemplar.typedFilteredAttributes and MetricDescriptor.typedMetadata keep the OTLP types, -0 included', async () => {
    const typed = [
      { key: 'big', value: { intValue: '9223372036854775807' } },
      { key: 'd', value: { doubleValue: 'NaN' } },
      { key: 'two', value: { doubleValue: 2 } },
      { key: 'z', value: { doubleValue: '-0' } },
    ];
    const metric = {
      name: 'fidelity.gauge',
      metadata: typed,
      gauge: { dataPoints: [{ timeUnixNano: now(), asDouble: 1, exemplars: [{ timeUnixNano: now(), asDouble: 1, filteredAttributes: typed }] }] },
    };
    const res = await post('metrics', JSON.stringify({ resourceMetrics: [{ resource: { attributes: [str('service.name', 'typed')] }, scopeMetrics: [{ metrics: [metric] }] }] }));
    assert.deepEqual(res, { status: 200, body: {} });
    const q = `{ metricPoints(name: "fidelity.gauge") { metric { metadata typedMetadata { key type otlpValue } } exemplars { filteredAttributes typedFilteredAttributes { key type otlpValue } } } }`;
    type Typed = { key: string; type: string; otlpValue: unknown }[];
    const data = await waitFor(
      () => gqlData<{ metricPoints: { metric: { metadata: Json; typedMetadata: Typed }; exemplars: { filteredAttributes: Json; typedFilteredAttributes: Typed }[] }[] }>(gw.graphqlUrl, q),
      (d) => d.metricPoints.length === 1,
      'the point',
    );
    const [point] = data.metricPoints;
    const expected = [
      { key: 'big', type: 'INT', otlpValue: { intValue: '9223372036854775807' } },
      { key: 'd', type: 'DOUBLE', otlpValue: { doubleValue: 'NaN' } },
      { key: 'two', type: 'DOUBLE', otlpValue: { doubleValue: 2 } },
      { key: 'z', type: 'DOUBLE', otlpValue: { doubleValue: '-0' } },
    ];
    const plain = { big: '9223372036854775807', d: 'NaN', two: 2, z: 0 };
    assert.deepEqual(point!.metric, { metadata: plain, typedMetadata: expected });
    assert.deepEqual(point!.exemplars, [{ filteredAttributes: plain, typedFilteredAttributes: expected }]);
  });

  test('Attribute.otlpValue keeps -0, sent as a JSON number or string', async () => {
    const body = traces([str('service.name', 'negzero')], { name: 's' }, [
      span('0000000000000a01', { attributes: [{ key: 'n', value: { doubleValue: '-0' } }, { key: 'list', value: { arrayValue: { values: [{ doubleValue: '-0' }] } } }] }),
    ]).replace('"doubleValue":"-0"', '"doubleValue":-0');
    assert.match(body, /"doubleValue":-0\b/);
    assert.equal((await post('traces', body)).status, 200);
    const s = await readSpan<Json>('0000000000000a01', 'typedAttributes { key otlpValue }');
    assert.deepEqual(s.typedAttributes, [
      { key: 'n', otlpValue: { doubleValue: '-0' } },
      { key: 'list', otlpValue: { arrayValue: { values: [{ doubleValue: '-0' }] } } },
    ]);
  });
});
