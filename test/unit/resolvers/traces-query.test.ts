import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SearchSpansDocument, SearchTracesDocument, TraceByIdDocument, type SearchSpansQuery } from '../../generated/graphql.ts';
import { formatTimestamp } from '../../../resolvers/time.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { log, MS, SEC, span, spanId } from '../../helpers/telemetry-builders.ts';
import { errorCodes, harnessFor, openHarness, type Harness } from './harness.ts';
import { A_DB, A_LOAD, A_ROOT, B_ROOT, BASE, OTHER_TENANT, TRACE_A, TRACE_B, TRACE_C, UNKNOWN_TRACE } from './telemetry-fixture.ts';

let h: Harness;
before(async () => {
  h = await openHarness();
});
after(() => h.close());

describe('trace(traceId)', () => {
  test('returns every span of the trace with its tree, times and counts', async () => {
    const { data, errors } = await h.run(TraceByIdDocument, { traceId: TRACE_A });
    assert.equal(errors, undefined);
    const trace = data!.trace!;
    assert.equal(trace.traceId, TRACE_A);
    assert.equal(trace.spanCount, 3);
    assert.equal(trace.errorCount, 1);
    assert.deepEqual(trace.services, ['cart-db', 'checkout']);
    assert.equal(trace.startTime, formatTimestamp(BASE));
    assert.equal(trace.startTimeUnixNano, String(BASE));
    assert.equal(trace.duration, '250ms');
    assert.equal(trace.durationMs, 250);
    assert.deepEqual(trace.rootSpan, { spanId: A_ROOT, name: 'GET /cart' });
    assert.deepEqual(
      trace.spans.map((s) => [s.spanId, s.parentSpanId, s.parent?.spanId ?? null, s.children.map((c) => c.spanId)]),
      [
        [A_ROOT, null, null, [A_LOAD]],
        [A_LOAD, A_ROOT, A_ROOT, [A_DB]],
        [A_DB, A_LOAD, A_LOAD, []],
      ],
    );
    const db = trace.spans[2]!;
    assert.deepEqual(db.status, { code: 'ERROR', message: 'timeout' });
    assert.equal(db.kind, 'CLIENT');
    assert.equal(db.service, 'cart-db');
  });

  test('keeps nanosecond precision in span times', async () => {
    const { data } = await h.run(TraceByIdDocument, { traceId: TRACE_A });
    const root = data!.trace!.spans[0]!;
    assert.match(root.startTime, /\.\d{6}789Z$/);
    assert.equal(root.startTime, formatTimestamp(BASE));
    assert.equal(root.startTimeMs, Number(BASE / 1_000_000n)); // whole ms (Wild GraphQL reads a time path as an integer)
    assert.ok(Number.isInteger(root.startTimeMs));
  });

  test('shows attributes as plain JSON and typed attributes that keep INT and DOUBLE apart', async () => {
    const { data } = await h.run(TraceByIdDocument, { traceId: TRACE_A });
    const root = data!.trace!.spans[0]!;
    assert.deepEqual(root.attributes, { 'http.route': '/cart', 'http.status_code': 200, 'sample.ratio': 1, tags: ['a', 2] });
    assert.deepEqual(root.typedAttributes, [
      { key: 'http.route', type: 'STRING', value: '/cart' },
      { key: 'http.status_code', type: 'INT', value: 200 },
      { key: 'sample.ratio', type: 'DOUBLE', value: 1 },
      { key: 'tags', type: 'ARRAY', value: ['a', 2] },
    ]);
    assert.deepEqual(root.events, [{ name: 'cache.miss', time: formatTimestamp(BASE + 10_000_000n), attributes: { 'cache.key': 'cart:42' } }]);
  });

  test('exposes every other span field', async () => {
    const { data, errors } = await h.run(
      `query($t: ID!, $s: ID!) { span(traceId: $t, spanId: $s) {
          traceState flags endTime endTimeUnixNano endTimeMs durationNano droppedAttributesCount droppedEventsCount droppedLinksCount
          attribute(key: "http.status_code") missing: attribute(key: "nope")
          typedAttributes { key otlpValue }
          resource { serviceName attributes attribute(key: "telemetry.source") droppedAttributesCount schemaUrl typedAttributes { key type } }
          scope { name version attributes schemaUrl droppedAttributesCount }
          trace { traceId spanCount }
        } }`,
      { t: TRACE_A, s: A_ROOT },
    );
    assert.equal(errors, undefined);
    const s = data!.span as Record<string, unknown>;
    assert.equal(s.traceState, 'vendor=1');
    assert.equal(s.flags, 1);
    assert.equal(s.endTime, formatTimestamp(BASE + 250_000_000n));
    assert.equal(s.endTimeUnixNano, String(BASE + 250_000_000n));
    assert.equal(s.durationNano, '250000000');
    assert.equal(s.droppedAttributesCount, 1);
    assert.equal(s.attribute, 200);
    assert.equal(s.missing, null);
    assert.deepEqual((s.typedAttributes as unknown[])[1], { key: 'http.status_code', otlpValue: { intValue: '200' } });
    assert.deepEqual(s.resource, {
      serviceName: 'checkout',
      attributes: { 'service.name': 'checkout', 'telemetry.source': 'claude-code' },
      attribute: 'claude-code',
      droppedAttributesCount: 0,
      schemaUrl: '',
      typedAttributes: [
        { key: 'service.name', type: 'STRING' },
        { key: 'telemetry.source', type: 'STRING' },
      ],
    });
    assert.deepEqual(s.scope, {
      name: 'teleql-test',
      version: '1.0.0',
      attributes: { 'scope.attr': 'x' },
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      droppedAttributesCount: 0,
    });
    assert.deepEqual(s.trace, { traceId: TRACE_A, spanCount: 3 });
  });

  test('follows a link to the linked span and trace', async () => {
    const { data, errors } = await h.run(
      `query($t: ID!) { trace(traceId: $t) { span(spanId: "${A_LOAD}") { links { traceId spanId flags attributes span { name } trace { rootSpan { name } } } } } }`,
      { t: TRACE_A },
    );
    assert.equal(errors, undefined);
    assert.deepEqual((data as { trace: { span: { links: unknown[] } } }).trace.span.links, [
      { traceId: TRACE_B, spanId: B_ROOT, flags: 1, attributes: { 'link.kind': 'follows' }, span: { name: 'POST /pay' }, trace: { rootSpan: { name: 'POST /pay' } } },
    ]);
  });

  test('accepts an upper-case trace ID', async () => {
    const { data } = await h.run(TraceByIdDocument, { traceId: TRACE_A.toUpperCase() });
    assert.equal(data!.trace!.traceId, TRACE_A);
  });

  test('returns null without an error for an unknown trace', async () => {
    const result = await h.run(TraceByIdDocument, { traceId: UNKNOWN_TRACE });
    assert.equal(result.errors, undefined);
    assert.equal(result.data!.trace, null);
  });

  test('rejects a malformed trace ID with GW_BAD_ARGUMENT', async () => {
    const result = await h.run(TraceByIdDocument, { traceId: 'not-a-trace' });
    assert.deepEqual(errorCodes(result), ['GW_BAD_ARGUMENT']);
    assert.match(result.errors![0]!.message, /traceId "not-a-trace" is not a trace ID: expected 32 hex characters/);
  });

  test('shows a tenant only its own spans', async () => {
    const { data } = await h.run(TraceByIdDocument, { traceId: TRACE_A }, OTHER_TENANT);
    assert.deepEqual(
      data!.trace!.spans.map((s) => s.name),
      ['globex secret'],
    );
    const none = await h.run(TraceByIdDocument, { traceId: TRACE_B }, OTHER_TENANT);
    assert.equal(none.data!.trace, null);
  });
});

describe('traces(filter, limit)', () => {
  test('lists matching traces with root service, operation, times and counts', async () => {
    const { data, errors } = await h.run(SearchTracesDocument, { filter: { service: ['cart-db'] } });
    assert.equal(errors, undefined);
    assert.equal(data!.traces!.length, 1);
    const t = data!.traces![0]!;
    assert.equal(t.traceId, TRACE_A);
    assert.equal(t.rootServiceName, 'checkout');
    assert.equal(t.rootSpanName, 'GET /cart');
    assert.equal(t.startTime, formatTimestamp(BASE));
    assert.equal(t.durationMs, 250);
    assert.equal(t.duration, '250ms');
    assert.equal(t.spanCount, 3);
    assert.equal(t.errorCount, 1);
    assert.deepEqual(t.services, ['cart-db', 'checkout']);
    assert.deepEqual(t.trace, { spanCount: 3 });
  });

  test('returns at most `limit` traces', async () => {
    const { data } = await h.run(SearchTracesDocument, { limit: 2 });
    assert.equal(data!.traces!.length, 2);
    const all = await h.run(SearchTracesDocument, {});
    assert.deepEqual(new Set(all.data!.traces!.map((t) => t.traceId)), new Set([TRACE_A, TRACE_B, TRACE_C]));
  });

  test('matches a trace when one of its spans matches', async () => {
    const { data } = await h.run(SearchTracesDocument, { filter: { status: ['ERROR'] } });
    assert.deepEqual(
      data!.traces!.map((t) => t.traceId),
      [TRACE_A],
    );
  });

  test('rejects a limit above 1000 with GW_BAD_ARGUMENT', async () => {
    const result = await h.run(SearchTracesDocument, { limit: 1001 });
    assert.deepEqual(errorCodes(result), ['GW_BAD_ARGUMENT']);
    assert.match(result.errors![0]!.message, /limit must be between 1 and 1000, got 1001/);
  });
});

describe('spans(filter, first, after, order)', () => {
  const ids = async (filter: Record<string, unknown>, order?: 'NEWEST_FIRST' | 'OLDEST_FIRST') => {
    const { data, errors } = await h.run(SearchSpansDocument, { filter, first: 100, ...(order && { order }) });
    assert.equal(errors, undefined, JSON.stringify(errors));
    return data!.spans!.edges.map((e) => e.node.spanId);
  };

  test('pages through results with cursors and no overlap', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const { data, errors }: { data?: SearchSpansQuery | null; errors?: unknown } = await h.run(SearchSpansDocument, {
        filter: { service: ['batcher'] },
        first: 7,
        after,
      });
      assert.equal(errors, undefined);
      pages++;
      seen.push(...data!.spans!.edges.map((e) => e.node.spanId));
      if (!data!.spans!.pageInfo.hasNextPage) break;
      after = data!.spans!.pageInfo.endCursor;
      assert.ok(after);
    }
    assert.equal(pages, 3);
    assert.equal(seen.length, 20);
    assert.equal(new Set(seen).size, 20);
    // A templated cursor is "" on the first page (it was GW_BAD_FILTER "not one this store issued").
    const first: { data?: SearchSpansQuery | null; errors?: unknown } = await h.run(SearchSpansDocument, { filter: { service: ['batcher'] }, first: 7, after: '' });
    assert.equal(first.errors, undefined, JSON.stringify(first.errors));
    assert.deepEqual(first.data!.spans!.edges.map((e) => e.node.spanId), seen.slice(0, 7));
  });

  test('PageInfo has all four Relay fields: startCursor is the first edge’s, hasPreviousPage whether the page came after a cursor', async () => {
    type Conn = { edges: { cursor: string }[]; pageInfo: { hasPreviousPage: boolean; hasNextPage: boolean; startCursor: string | null; endCursor: string | null } };
    const page = async (root: 'spans' | 'logs', filter: Record<string, unknown>, after?: string | null) => {
      const r = await h.run(
        `query($filter: TelemetryFilter, $after: String) { ${root}(filter: $filter, first: 7, after: $after) { edges { cursor } pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } }`,
        { filter, after },
      );
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      return (r.data as Record<string, Conn>)[root]!;
    };
    for (const [root, filter] of [['spans', { service: ['batcher'] }], ['logs', { traceId: [TRACE_C] }]] as const) {
      const first = await page(root, filter);
      assert.deepEqual(first.pageInfo, { hasPreviousPage: false, hasNextPage: true, startCursor: first.edges[0]!.cursor, endCursor: first.edges.at(-1)!.cursor }, root);
      assert.equal((await page(root, filter, '')).pageInfo.hasPreviousPage, false, `${root}: an empty cursor is the first page`);
      const second = await page(root, filter, first.pageInfo.endCursor);
      assert.equal(second.pageInfo.hasPreviousPage, true, root);
      assert.equal(second.pageInfo.startCursor, second.edges[0]!.cursor, root);
      const none = await page(root, { traceId: [UNKNOWN_TRACE] });
      assert.deepEqual(none.pageInfo, { hasPreviousPage: false, hasNextPage: false, startCursor: null, endCursor: null }, root);
    }
  });

  test('a cursor of a newest-first page passed with OLDEST_FIRST is GW_BAD_ARGUMENT saying so, not a wrong page', async () => {
    const page = await h.run(SearchSpansDocument, { filter: { service: ['batcher'] }, first: 7 });
    const after = page.data!.spans!.pageInfo.endCursor;
    assert.ok(after);
    const other = await h.run(SearchSpansDocument, { filter: { service: ['batcher'] }, first: 7, after, order: 'OLDEST_FIRST' });
    assert.deepEqual(other.data, { spans: null });
    assert.equal(other.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    assert.match(other.errors[0]!.message, /the cursor was issued for order NEWEST_FIRST, not OLDEST_FIRST/);
  });

  test('orders newest first by default and oldest first on request', async () => {
    const newest = await ids({ traceId: [TRACE_A] });
    const oldest = await ids({ traceId: [TRACE_A] }, 'OLDEST_FIRST');
    assert.deepEqual(oldest, [A_ROOT, A_LOAD, A_DB]);
    assert.deepEqual(newest, [A_DB, A_LOAD, A_ROOT]);
  });

  test('filters by service, name, kind, status and duration', async () => {
    assert.deepEqual(await ids({ service: ['payments'] }), [B_ROOT]);
    assert.deepEqual(await ids({ name: ['load cart'] }), [A_LOAD]);
    assert.deepEqual(new Set(await ids({ kind: ['SERVER'] })), new Set([A_ROOT, B_ROOT]));
    assert.deepEqual(await ids({ status: ['ERROR'] }), [A_DB]);
    assert.deepEqual(await ids({ status: ['OK'] }), [B_ROOT]);
    assert.deepEqual(new Set(await ids({ minDuration: '200ms' })), new Set([A_ROOT, B_ROOT]));
    assert.deepEqual(await ids({ minDuration: '200ms', maxDuration: '1s' }), [A_ROOT]);
    assert.deepEqual(await ids({ minDuration: 1000 }), [B_ROOT]);
  });

  test('filters by telemetry source, trace ID and span ID', async () => {
    assert.deepEqual(await ids({ telemetrySource: ['claude-code'] }), [A_ROOT]);
    assert.deepEqual(await ids({ traceId: [TRACE_B] }), [B_ROOT]);
    assert.deepEqual(await ids({ spanId: [A_DB.toUpperCase()] }), [A_DB]);
  });

  test('filters by attribute conditions, on the span and on its resource', async () => {
    assert.deepEqual(await ids({ attributes: [{ key: 'http.route', eq: '/cart' }] }), [A_ROOT]);
    assert.deepEqual(await ids({ attributes: [{ key: 'http.route', in: ['/cart', '/pay'] }] }).then((r) => new Set(r)), new Set([A_ROOT, B_ROOT]));
    assert.deepEqual(await ids({ attributes: [{ key: 'http.route', regex: '/p.*' }] }), [B_ROOT]);
    assert.deepEqual(await ids({ attributes: [{ key: 'http.route', regex: '(?i)/PAY' }] }), [B_ROOT]);
    assert.deepEqual(await ids({ attributes: [{ key: 'http.route', neq: '/cart' }] }), [B_ROOT]);
    assert.deepEqual(await ids({ attributes: [{ key: 'http.status_code', gte: 500 }] }), [A_LOAD]);
    assert.deepEqual(await ids({ attributes: [{ key: 'http.status_code', lt: 300 }] }), [A_ROOT]);
    assert.deepEqual(await ids({ attributes: [{ key: 'http.status_code', gt: 200, lte: undefined }] }), [A_LOAD]);
    assert.deepEqual(await ids({ attributes: [{ key: 'db.system', exists: true }] }), [A_DB]);
    assert.deepEqual(await ids({ traceId: [TRACE_A], attributes: [{ key: 'http.status_code', exists: false }] }), [A_DB]);
    assert.deepEqual(await ids({ attributes: [{ key: 'telemetry.source', eq: 'claude-code' }] }), [A_ROOT]);
  });

  test('combines filters with and, or and not', async () => {
    assert.deepEqual(
      new Set(await ids({ or: [{ service: ['payments'] }, { status: ['ERROR'] }] })),
      new Set([B_ROOT, A_DB]),
    );
    assert.deepEqual(await ids({ traceId: [TRACE_A], not: { service: ['checkout'] } }), [A_DB]);
    assert.deepEqual(await ids({ and: [{ service: ['checkout'] }, { kind: ['SERVER'] }] }), [A_ROOT]);
  });

  test('searches the last hour unless told otherwise', async () => {
    const old = await h.run(SearchSpansDocument, { filter: { to: String(BASE - 3_600_000_000_000n) } });
    assert.deepEqual(old.data!.spans!.edges, []);
    const window = await h.run(SearchSpansDocument, { filter: { from: formatTimestamp(BASE), to: formatTimestamp(BASE) } });
    assert.deepEqual(
      window.data!.spans!.edges.map((e) => e.node.spanId),
      [A_ROOT],
    );
  });

  test('rejects bad paging arguments with GW_BAD_ARGUMENT', async () => {
    assert.deepEqual(errorCodes(await h.run(SearchSpansDocument, { first: 0 })), ['GW_BAD_ARGUMENT']);
    assert.deepEqual(errorCodes(await h.run(SearchSpansDocument, { first: 1001 })), ['GW_BAD_ARGUMENT']);
  });

  test('rejects bad filters with a code that says what is wrong', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'GW_BAD_TIME_RANGE', /from is after to/],
      [{ from: 'last tuesday' }, 'GW_BAD_TIME_RANGE', /Timestamp "last tuesday" is invalid/],
      [{ minDuration: 'soon' }, 'GW_BAD_ARGUMENT', /Duration "soon" is invalid/],
      [{ traceId: ['xyz'] }, 'GW_BAD_ARGUMENT', /not a trace ID/],
      [{ attributes: [{ key: 'http.route', eq: '/a', neq: '/b' }] }, 'GW_BAD_FILTER', /"http\.route".*exactly one operator/],
      [{ bodyContains: 'x' }, 'GW_BAD_FILTER', /bodyContains: does not apply to spans/],
      [{ attributes: [{ key: 'http.route', regex: '(' }] }, 'GW_BAD_FILTER', /^filter\.attributes\[0\] \(key "http\.route"\)\.regex: invalid regex "\(": missing \)/],
    ];
    for (const [filter, code, message] of cases) {
      const result = await h.run(SearchSpansDocument, { filter });
      assert.deepEqual(errorCodes(result), [code], JSON.stringify(filter));
      assert.match(result.errors![0]!.message, message);
    }
  });

  test('rejects literal scalars that do not parse during validation', async () => {
    const ts = await h.run('{ spans(filter: { from: "yesterday" }) { pageInfo { hasNextPage } } }');
    assert.deepEqual(errorCodes(ts), ['GW_BAD_TIME_RANGE']);
    const dur = await h.run('{ spans(filter: { minDuration: "5 minutes" }) { pageInfo { hasNextPage } } }');
    assert.deepEqual(errorCodes(dur), ['GW_BAD_ARGUMENT']);
    // Epoch microseconds (a Jaeger URL's start=) as a literal Int: its digits reach the scalar as written.
    const micros = await h.run('{ spans(filter: { from: 1796551200000000 }) { pageInfo { hasNextPage } } }');
    assert.deepEqual(errorCodes(micros), ['GW_BAD_TIME_RANGE']);
    assert.match(micros.errors![0]!.message, /16 digits look like epoch microseconds/);
  });

  test('accepts literal timestamps in every form', async () => {
    const q = (from: string) => `{ spans(filter: { from: ${from}, traceId: ["${TRACE_A}"] }, order: OLDEST_FIRST) { nodes { spanId } } }`;
    const ms = BASE / 1_000_000n;
    for (const from of [String(ms), `"${ms}"`, `"${BASE}"`, String(BASE), `"${formatTimestamp(BASE)}"`]) {
      const { data, errors } = await h.run(q(from));
      assert.equal(errors, undefined, from);
      assert.equal((data as { spans: { nodes: unknown[] } }).spans.nodes.length, 3, from);
    }
  });
});

describe('pages of one search agree on now', () => {
  const NOW = 1_796_551_200_000_000_000n; // 2026-12-06T10:00:00Z
  const HOUR = 3_600n * SEC;
  type Conn = { edges: { node: { name?: string; body?: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  const PAGE = {
    spans: 'query($filter: TelemetryFilter, $after: String) { spans(filter: $filter, first: 3, after: $after) { edges { node { name } } pageInfo { hasNextPage endCursor } } }',
    logs: 'query($filter: TelemetryFilter, $after: String) { logs(filter: $filter, first: 3, after: $after) { edges { node { body } } pageInfo { hasNextPage endCursor } } }',
  };

  /** Three records a minute old and three just inside the hour's edge, as spans and as logs. */
  async function edgeHarness(t: { after(fn: () => Promise<void>): void }): Promise<Harness> {
    const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    t.after(() => store.close());
    const at = [...[60n, 61n, 62n].map((s) => NOW - s * SEC), ...[5n, 4n, 3n].map((s) => NOW - HOUR + s * SEC)];
    await store.writer.writeSpans(at.map((start, i) => span({ spanId: spanId(i + 1), name: `s${i}`, startTimeUnixNano: start, endTimeUnixNano: start + MS })));
    await store.writer.writeLogs(at.map((time, i) => log({ body: { stringValue: `l${i}` }, timeUnixNano: time, observedTimeUnixNano: time })));
    return harnessFor(store);
  }

  const page = async (h: Harness, root: 'spans' | 'logs', filter: Record<string, unknown>, after?: string | null) => {
    const r = await h.run(PAGE[root], { filter, after }, 'default');
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const conn = (r.data as Record<string, Conn>)[root]!;
    return { names: conn.edges.map((e) => e.node.name ?? e.node.body), ...conn.pageInfo };
  };

  test('a page after a cursor covers the hour the first page covered: records the hour has since moved past are not skipped', async (t) => {
    const h = await edgeHarness(t);
    t.mock.timers.enable({ apis: ['Date'], now: Number(NOW / MS) });
    for (const [root, prefix] of [['spans', 's'], ['logs', 'l']] as const) {
      // The default hour, and the same written relative to now (it moved with each request's clock).
      for (const filter of [{}, { service: ['checkout'] }, { from: 'now-1h' }, { from: 'now - 60m', to: 'now' }, { and: [{ from: 'now-1h' }] }]) {
        const first = await page(h, root, filter);
        assert.deepEqual(first.names, [0, 1, 2].map((i) => `${prefix}${i}`), root);
        assert.equal(first.hasNextPage, true, root);
        // Ten seconds on, the last hour no longer holds the three oldest records; this search's does.
        mockNow(t, NOW + 10n * SEC);
        const second = await page(h, root, filter, first.endCursor);
        assert.deepEqual(second.names, [3, 4, 5].map((i) => `${prefix}${i}`), `${root}: the records the first page said followed`);
        assert.equal(second.hasNextPage, false, root);
        // A new search is a new hour.
        const fresh = await page(h, root, filter);
        assert.deepEqual([fresh.names, fresh.hasNextPage], [[0, 1, 2].map((i) => `${prefix}${i}`), false], `${root}: a new search's hour has moved on`);
        mockNow(t, NOW);
      }
    }
  });

  test('a cursor without the instant (issued before cursors carried it) pages on against the time of the request; a forged one is GW_BAD_ARGUMENT', async (t) => {
    const h = await edgeHarness(t);
    t.mock.timers.enable({ apis: ['Date'], now: Number(NOW / MS) });
    const first = await page(h, 'spans', {});
    const fields = JSON.parse(Buffer.from(first.endCursor!, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.equal(fields['n'], String(NOW));
    const { n: _, ...old } = fields;
    const cursor = (c: Record<string, unknown>) => Buffer.from(JSON.stringify(c)).toString('base64url');
    assert.deepEqual((await page(h, 'spans', {}, cursor(old))).names, ['s3', 's4', 's5']);
    mockNow(t, NOW + 10n * SEC);
    assert.deepEqual((await page(h, 'spans', {}, cursor(old))).names, [], 'its hour is the request\'s');
    // A range that does not end now does not depend on the time: its cursors are what they always were.
    const fixed = await page(h, 'spans', { from: formatTimestamp(NOW - HOUR), to: formatTimestamp(NOW) });
    assert.deepEqual(Object.keys(JSON.parse(Buffer.from(fixed.endCursor!, 'base64url').toString('utf8')) as object), ['o', 'k']);
    for (const n of ['abc', '-1', 12, '9223372036854775808', null]) {
      const r = await h.run(PAGE.spans, { filter: {}, after: cursor({ ...old, n }) }, 'default');
      assert.deepEqual(errorCodes(r), ['GW_BAD_ARGUMENT'], JSON.stringify(n));
      assert.match(r.errors![0]!.message, /the cursor is not one this store issued/);
    }
  });
});

function mockNow(t: { mock: { timers: { setTime(ms: number): void } } }, ns: bigint): void {
  t.mock.timers.setTime(Number(ns / MS));
}

describe('span lookups', () => {
  test('span(traceId, spanId) returns null for an unknown span', async () => {
    const { data, errors } = await h.run(`{ span(traceId: "${TRACE_A}", spanId: "abababababababab") { name } }`);
    assert.equal(errors, undefined);
    assert.deepEqual(data, { span: null });
  });

  test('span(traceId, spanId) rejects a malformed span ID', async () => {
    assert.deepEqual(errorCodes(await h.run(`{ span(traceId: "${TRACE_A}", spanId: "12") { name } }`)), ['GW_BAD_ARGUMENT']);
  });

  test('the batch trace has 20 spans', async () => {
    const { data } = await h.run(TraceByIdDocument, { traceId: TRACE_C, logsFirst: 1 });
    assert.equal(data!.trace!.spanCount, 20);
    assert.equal(data!.trace!.spans[0]!.children.length, 19);
  });
});
