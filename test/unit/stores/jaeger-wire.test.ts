// The Jaeger store's wire forms and pushdown plan, without a server: RFC3339Nano times, Go
// durations, kind names, which filter parts Jaeger is asked to evaluate, and the search window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_WINDOW_NS, findTracesQuery, planSearch, searchWindow } from '../../../src/stores/jaeger/search-plan.ts';
import { goDuration, rfc3339Nano, spanKindFromJaeger } from '../../../src/stores/jaeger/wire.ts';

describe('jaeger wire forms', () => {
  it('formats times as Go time.RFC3339Nano in UTC, dropping trailing zeros of the fraction', () => {
    assert.equal(rfc3339Nano(1_485_449_191_639_875_000n), '2017-01-26T16:46:31.639875Z');
    assert.equal(rfc3339Nano(1_485_449_191_639_875_123n), '2017-01-26T16:46:31.639875123Z');
    assert.equal(rfc3339Nano(1_485_449_191_000_000_000n), '2017-01-26T16:46:31Z');
    assert.equal(rfc3339Nano(1_485_449_191_100_000_000n), '2017-01-26T16:46:31.1Z');
    assert.equal(rfc3339Nano(1n), '1970-01-01T00:00:00.000000001Z');
    assert.equal(rfc3339Nano(0n), '1970-01-01T00:00:00Z');
    assert.equal(rfc3339Nano(-5n), '1970-01-01T00:00:00Z', 'clamped to the epoch');
    assert.equal(rfc3339Nano(10n ** 30n), '9999-12-31T23:59:59.999999999Z', 'clamped to a four-digit year');
  });

  it("formats durations as Go's time.Duration.String, which ParseDuration reads back", () => {
    const cases: [bigint, string][] = [
      [0n, '0s'],
      [1n, '1ns'],
      [999n, '999ns'],
      [1_000n, '1µs'],
      [1_500n, '1.5µs'],
      [1_000_000n, '1ms'],
      [1_500_000n, '1.5ms'],
      [100_000_001n, '100.000001ms'],
      [1_000_000_000n, '1s'],
      [1_500_000_000n, '1.5s'],
      [60_000_000_000n, '1m0s'],
      [90_000_000_000n, '1m30s'],
      [3_600_000_000_000n, '1h0m0s'],
      [3_723_000_000_001n, '1h2m3.000000001s'],
      [-1_500_000n, '-1.5ms'],
    ];
    for (const [ns, text] of cases) assert.equal(goDuration(ns), text, `${ns} ns`);
  });

  it('maps api_v3 span kind names to OTLP SpanKind numbers', () => {
    assert.deepEqual(
      ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer', 'SPAN_KIND_SERVER', 'Client', '', 'bogus', undefined].map(spanKindFromJaeger),
      [0, 1, 2, 3, 4, 5, 2, 3, 0, 0, 0],
    );
  });
});

describe('jaeger search pushdown', () => {
  it('pushes one service, one operation, durations and attribute equality, and leaves nothing to the gateway', () => {
    const plan = planSearch({
      service: ['checkout'],
      name: ['GET /cart'],
      minDuration: 1_500_000n,
      maxDuration: 90_000_000_000n,
      attributes: [{ key: 'http.method', op: 'eq', value: 'GET' }, { key: 'http.status_code', op: 'eq', value: '200' }],
    });
    assert.deepEqual(plan, {
      residual: [],
      serviceName: 'checkout',
      operationName: 'GET /cart',
      durationMin: 1_500_000n,
      durationMax: 90_000_000_000n,
      attributes: { 'http.method': 'GET', 'http.status_code': '200' },
    });
  });

  it('leaves to the gateway what Jaeger cannot evaluate and names it', () => {
    const plan = planSearch({
      service: ['a', 'b'],
      name: ['op'],
      status: ['ERROR'],
      kind: [2],
      telemetrySource: ['claude-code'],
      spanId: ['0000000000000001'],
      attributes: [{ key: 'k', op: 'regex', value: 'x.*' }, { key: 'n', op: 'gt', number: 3 }, { key: 'e', op: 'eq', value: 'v' }],
      or: [{ name: ['x'] }],
      and: [{ service: ['a'] }],
      not: { status: ['OK'] },
    });
    assert.equal(plan.serviceName, undefined);
    assert.equal(plan.operationName, undefined, 'no operation without a service: some storages refuse it');
    assert.equal(plan.attributes, undefined, 'no attributes without a service: some storages refuse them');
    assert.deepEqual(plan.residual, [
      'service (more than one)', 'name', 'attributes (regex)', 'attributes (gt)', 'attributes', 'status', 'kind', 'telemetrySource', 'spanId', 'and', 'or', 'not',
    ]);
  });

  it('sends a second equality on the same key to the gateway, and a key named __proto__ as a key', () => {
    const plan = planSearch({
      service: ['s'],
      attributes: [{ key: '__proto__', op: 'eq', value: 'a' }, { key: '__proto__', op: 'eq', value: 'b' }],
    });
    assert.equal(JSON.stringify(plan.attributes), '{"__proto__":"a"}');
    assert.deepEqual(plan.residual, ['attributes']);
  });

  it('does not push durations Jaeger would read as unset or cannot hold', () => {
    assert.deepEqual(planSearch({ minDuration: 0n, maxDuration: 0n }), { residual: ['maxDuration'], durationMin: undefined, durationMax: undefined });
    assert.equal(planSearch({ maxDuration: 2n ** 63n }).durationMax, undefined);
  });

  it('writes the FindTraces query with the v2.19+ parameter names in a stable order', () => {
    const plan = planSearch({ service: ['svc'], name: ['op'], minDuration: 1_000n, attributes: [{ key: 'a', op: 'eq', value: '1' }] });
    const q = findTracesQuery(plan, { from: 1_485_449_191_639_875_000n, to: 1_485_449_191_639_875_001n }, 20);
    assert.deepEqual(q, [
      ['query.serviceName', 'svc'],
      ['query.operationName', 'op'],
      ['query.startTimeMin', '2017-01-26T16:46:31.639875Z'],
      ['query.startTimeMax', '2017-01-26T16:46:31.639875001Z'],
      ['query.durationMin', '1µs'],
      ['query.searchDepth', '20'],
      ['query.attributes', '{"a":"1"}'],
    ]);
  });

  it('searches the last hour without a range, the hour before `to` with only `to`, and up to now with only `from`', () => {
    const now = 10n * DEFAULT_WINDOW_NS;
    assert.deepEqual(searchWindow(undefined, now), { from: now - DEFAULT_WINDOW_NS, to: now });
    assert.deepEqual(searchWindow({ to: 5n * DEFAULT_WINDOW_NS }, now), { from: 4n * DEFAULT_WINDOW_NS, to: 5n * DEFAULT_WINDOW_NS }, 'as the GraphQL layer does');
    assert.deepEqual(searchWindow({ from: 3n }, now), { from: 3n, to: now });
    assert.deepEqual(searchWindow({ from: now + 7n }, now), { from: now + 7n, to: now + 7n }, 'a future start is not an inverted window');
    assert.equal(searchWindow({ from: 9n, to: 8n }, now), null);
  });

  it('narrows the window to the page cursor in the direction of the page', () => {
    const range = { from: 100n, to: 200n };
    assert.deepEqual(searchWindow(range, 1000n, { start: 150n, order: 'NEWEST_FIRST' }), { from: 100n, to: 150n });
    assert.deepEqual(searchWindow(range, 1000n, { start: 150n, order: 'OLDEST_FIRST' }), { from: 150n, to: 200n });
    assert.deepEqual(searchWindow(range, 1000n, { start: 500n, order: 'NEWEST_FIRST' }), range);
    assert.equal(searchWindow(range, 1000n, { start: 50n, order: 'NEWEST_FIRST' }), null);
  });
});
