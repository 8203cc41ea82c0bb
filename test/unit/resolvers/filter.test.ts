import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/errors.ts';
import { SpanKind, StatusCode } from '../../../src/model/telemetry.ts';
import { DEFAULT_SEARCH_WINDOW_NS, toSearchFilter, toStoreFilter, type TelemetryFilterInput } from '../../../resolvers/filter.ts';

const NOW = 1_795_317_807_000_000_000n;
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

function rejects(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.extensions.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('toStoreFilter', () => {
  test('every field maps onto the store filter', () => {
    const filter = toStoreFilter(
      {
        from: 1n,
        to: 2n,
        service: ['checkout'],
        name: ['GET /cart'],
        status: [StatusCode.ERROR, StatusCode.OK],
        kind: [SpanKind.SERVER],
        minDuration: 5n,
        maxDuration: 10n,
        telemetrySource: ['claude-code'],
        traceId: [TRACE.toUpperCase()],
        spanId: [SPAN],
        attributes: [
          { key: 'http.route', eq: '/cart' },
          { key: 'a', neq: 'b' },
          { key: 'b', in: ['x', 'y'] },
          { key: 'c', regex: '^x.*' },
          { key: 'd', exists: true },
          { key: 'e', gt: 1 },
          { key: 'f', gte: 2 },
          { key: 'g', lt: 3 },
          { key: 'h', lte: 4 },
        ],
        and: [{ service: ['a'] }],
        or: [{ name: ['x'] }, { name: ['y'] }],
        not: { kind: [SpanKind.CLIENT] },
      },
      'spans',
      NOW,
    );
    assert.deepEqual(filter, {
      timeRange: { from: 1n, to: 2n },
      service: ['checkout'],
      name: ['GET /cart'],
      status: ['ERROR', 'OK'],
      kind: [SpanKind.SERVER],
      minDuration: 5n,
      maxDuration: 10n,
      telemetrySource: ['claude-code'],
      traceId: [TRACE],
      spanId: [SPAN],
      attributes: [
        { key: 'http.route', op: 'eq', value: '/cart' },
        { key: 'a', op: 'neq', value: 'b' },
        { key: 'b', op: 'in', values: ['x', 'y'] },
        { key: 'c', op: 'regex', value: '^x.*' },
        { key: 'd', op: 'exists' },
        { key: 'e', op: 'gt', number: 1 },
        { key: 'f', op: 'gte', number: 2 },
        { key: 'g', op: 'lt', number: 3 },
        { key: 'h', op: 'lte', number: 4 },
      ],
      and: [{ service: ['a'] }],
      or: [{ name: ['x'] }, { name: ['y'] }],
      not: { kind: [SpanKind.CLIENT] },
    });
  });

  test('log-only fields map for logs, and the severity level becomes a severity number', () => {
    assert.deepEqual(toStoreFilter({ from: 1n, minSeverity: 13, bodyContains: 'timeout' }, 'logs', NOW), {
      timeRange: { from: 1n },
      minSeverity: 13,
      bodyContains: 'timeout',
    });
    assert.deepEqual(toStoreFilter({ from: 1n, minSeverityLevel: 17 }, 'logs', NOW), { timeRange: { from: 1n }, minSeverity: 17 });
  });

  test('exists: false becomes NOT exists', () => {
    assert.deepEqual(toStoreFilter({ from: 1n, attributes: [{ key: 'error', exists: false }] }, 'spans', NOW), {
      timeRange: { from: 1n },
      and: [{ not: { attributes: [{ key: 'error', op: 'exists' }] } }],
    });
  });

  test('without a time range a search covers the last hour, up to now (not records stamped in the future)', () => {
    assert.deepEqual(toStoreFilter(undefined, 'spans', NOW), { timeRange: { from: NOW - DEFAULT_SEARCH_WINDOW_NS, to: NOW } });
    assert.deepEqual(toStoreFilter({ service: [] }, 'logs', NOW), { timeRange: { from: NOW - DEFAULT_SEARCH_WINDOW_NS, to: NOW } });
  });

  test('with only `to` a search covers the hour before it', () => {
    assert.deepEqual(toStoreFilter({ to: NOW - 10n }, 'traces', NOW), {
      timeRange: { from: NOW - 10n - DEFAULT_SEARCH_WINDOW_NS, to: NOW - 10n },
    });
  });

  test('a top-level trace or span ID lifts the default time range', () => {
    assert.deepEqual(toStoreFilter({ traceId: [TRACE] }, 'spans', NOW), { traceId: [TRACE] });
    assert.deepEqual(toStoreFilter({ spanId: [SPAN] }, 'logs', NOW), { spanId: [SPAN] });
  });

  test('toSearchFilter says which filters it resolves against now (their pages must agree on it)', () => {
    const cases: [TelemetryFilterInput | undefined, boolean][] = [
      [undefined, true],
      [{ service: ['a'], traceId: [], spanId: [] }, true],
      [{ or: [{ from: 1n }, { traceId: [TRACE] }] }, true],
      [{ from: 1n }, false],
      [{ to: NOW - 10n }, false],
      [{ traceId: [TRACE] }, false],
      [{ spanId: [SPAN] }, false],
    ];
    const text = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
    for (const [input, endsNow] of cases) {
      const moves = text(toStoreFilter(input, 'spans', NOW)) !== text(toStoreFilter(input, 'spans', NOW + 1n));
      assert.equal(moves, endsNow, `toStoreFilter(${text(input)}) moves with now`);
      assert.equal(toSearchFilter(input, 'spans', NOW).movesWithNow, endsNow, `toSearchFilter(${text(input)}).movesWithNow`);
    }
  });

  test('nested filters get no default time range', () => {
    assert.deepEqual(toStoreFilter({ from: 5n, or: [{ service: ['a'] }] }, 'spans', NOW), {
      timeRange: { from: 5n },
      or: [{ service: ['a'] }],
    });
  });

  test('an empty list means no restriction', () => {
    assert.deepEqual(toStoreFilter({ from: 1n, service: [], name: [], status: [], kind: [], traceId: [] }, 'spans', NOW), {
      timeRange: { from: 1n },
    });
  });

  test('from after to is GW_BAD_TIME_RANGE, at the top level and nested', () => {
    rejects(() => toStoreFilter({ from: 2n, to: 1n }, 'spans', NOW), 'GW_BAD_TIME_RANGE', /^filter: from is after to/);
    rejects(() => toStoreFilter({ or: [{ from: 2n, to: 1n }] }, 'spans', NOW), 'GW_BAD_TIME_RANGE', /^filter\.or\[0\]: from is after to/);
  });

  test('malformed trace and span IDs are GW_BAD_ARGUMENT', () => {
    rejects(() => toStoreFilter({ traceId: ['abc'] }, 'spans', NOW), 'GW_BAD_ARGUMENT', /filter\.traceId\[0\] "abc" is not a trace ID: expected 32 hex/);
    rejects(() => toStoreFilter({ spanId: [TRACE] }, 'spans', NOW), 'GW_BAD_ARGUMENT', /filter\.spanId\[0\] .* is not a span ID: expected 16 hex/);
    rejects(() => toStoreFilter({ not: { traceId: ['g'.repeat(32)] } }, 'spans', NOW), 'GW_BAD_ARGUMENT', /filter\.not\.traceId\[0\]/);
  });

  test('an attribute condition with no operator or several is GW_BAD_FILTER naming the key', () => {
    rejects(() => toStoreFilter({ attributes: [{ key: 'http.route' }] }, 'spans', NOW), 'GW_BAD_FILTER', /"http\.route".*exactly one operator.*it has none/);
    rejects(
      () => toStoreFilter({ attributes: [{ key: 'http.status_code', eq: '200', gt: 100 }] }, 'spans', NOW),
      'GW_BAD_FILTER',
      /filter\.attributes\[0\] \(key "http\.status_code"\).*it has eq, gt/,
    );
  });

  test('an invalid attribute condition is GW_BAD_FILTER', () => {
    rejects(() => toStoreFilter({ attributes: [{ key: 'a', in: [] }] }, 'spans', NOW), 'GW_BAD_FILTER', /at least one value/);
    rejects(() => toStoreFilter({ attributes: [{ key: '', eq: 'x' }] }, 'spans', NOW), 'GW_BAD_FILTER', /key must not be empty/);
  });

  test('a regex RE2 cannot take is GW_BAD_FILTER naming its condition, refused before any store runs it', () => {
    rejects(
      () => toStoreFilter({ attributes: [{ key: 'a', eq: 'x' }, { key: 'b', regex: '(' }] }, 'spans', NOW),
      'GW_BAD_FILTER',
      /^filter\.attributes\[1\] \(key "b"\)\.regex: invalid regex "\(": missing \)/,
    );
    rejects(
      () => toStoreFilter({ or: [{ attributes: [{ key: 'c', regex: 'a(?=b)' }] }] }, 'logs', NOW),
      'GW_BAD_FILTER',
      /^filter\.or\[0\]\.attributes\[0\] \(key "c"\)\.regex: invalid regex .*lookahead/,
    );
    // RE2 syntax that JavaScript lacks is accepted.
    for (const regex of ['(?i)/PAY', '[[:alpha:]]+', '(?P<id>\\d+)', '\\Qa.b\\E']) {
      assert.doesNotThrow(() => toStoreFilter({ attributes: [{ key: 'a', regex }] }, 'spans', NOW), regex);
    }
  });

  test('a field that does not apply to the signal is GW_BAD_FILTER', () => {
    rejects(() => toStoreFilter({ kind: [SpanKind.SERVER] }, 'logs', NOW), 'GW_BAD_FILTER', /filter\.kind: does not apply to logs/);
    rejects(() => toStoreFilter({ minDuration: 1n }, 'logs', NOW), 'GW_BAD_FILTER', /filter\.minDuration: does not apply to logs/);
    rejects(() => toStoreFilter({ and: [{ bodyContains: 'x' }] }, 'spans', NOW), 'GW_BAD_FILTER', /filter\.and\[0\]\.bodyContains: does not apply to spans/);
    rejects(() => toStoreFilter({ minSeverity: 9 }, 'traces', NOW), 'GW_BAD_FILTER', /does not apply to traces/);
  });

  test('other contradictions are GW_BAD_FILTER', () => {
    rejects(() => toStoreFilter({ minDuration: 10n, maxDuration: 5n }, 'spans', NOW), 'GW_BAD_FILTER', /minDuration is greater than maxDuration/);
    rejects(() => toStoreFilter({ minSeverity: 25 }, 'logs', NOW), 'GW_BAD_FILTER', /0 to 24/);
    rejects(() => toStoreFilter({ minSeverity: 9, minSeverityLevel: 9 }, 'logs', NOW), 'GW_BAD_FILTER', /not both/);
  });
});
