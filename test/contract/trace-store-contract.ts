// The TraceStore contract: what every backend's spans must do, written against the interfaces only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StatusCode, type SpanRecord } from '../../src/model/telemetry.ts';
import type { TelemetryFilter, TraceSummary } from '../../src/stores/types.ts';
import { attrs, MS, resource, scope, SEC, span, spanId, T0, traceId } from '../helpers/telemetry-builders.ts';
import { assertCursorKeepsItsOrder, freshTenant, rejectsWith, type StoreFactory, type StoreUnderTest } from './store-under-test.ts';

export const t1 = traceId(0x101);
export const t2 = traceId(0x102);
export const t3 = traceId(0x103);
const resCheckout = resource('checkout', { 'deployment.environment': 'prod', 'host.name': 'h1' });
const resDb = resource('db', { 'deployment.environment': 'prod' });
const resPay = resource('payments', { 'telemetry.source': 'claude-code' });

/** Three traces: t1 (checkout → db, render), t2 (one failed payment), t3 (a span whose parent never arrived). */
export function sampleSpans(tenant: string): SpanRecord[] {
  return [
    span({
      tenant, traceId: t1, spanId: spanId(0x11), name: 'GET /cart', kind: 2, resource: resCheckout,
      startTimeUnixNano: T0, endTimeUnixNano: T0 + 100n * MS, status: { code: 1, message: '' },
      attributes: attrs({ 'http.method': 'GET', 'http.status_code': 200n, 'user.id': 'u1' }),
    }),
    span({
      tenant, traceId: t1, spanId: spanId(0x12), parentSpanId: spanId(0x11), name: 'SELECT cart', kind: 3, resource: resDb,
      startTimeUnixNano: T0 + 10n * MS, endTimeUnixNano: T0 + 30n * MS, status: { code: 2, message: 'timeout' },
      attributes: attrs({ 'db.system': 'postgresql', 'db.rows': 5n }),
    }),
    span({
      tenant, traceId: t1, spanId: spanId(0x13), parentSpanId: spanId(0x11), name: 'render', kind: 1, resource: resCheckout,
      startTimeUnixNano: T0 + 40n * MS, endTimeUnixNano: T0 + 70n * MS,
      attributes: attrs({ 'deployment.environment': 'canary', template: 'cart.html' }),
    }),
    span({
      tenant, traceId: t2, spanId: spanId(0x21), name: 'POST /pay', kind: 2, resource: resPay,
      startTimeUnixNano: T0 + SEC, endTimeUnixNano: T0 + SEC + 500n * MS, status: { code: 2, message: 'declined' },
      attributes: attrs({ 'http.method': 'POST', 'http.status_code': 500n, amount: 12.5 }),
    }),
    span({
      tenant, traceId: t3, spanId: spanId(0x31), parentSpanId: spanId(0x30), name: 'consume', kind: 5, resource: resPay,
      startTimeUnixNano: T0 + 2n * SEC, endTimeUnixNano: T0 + 2n * SEC + 5n * MS,
      attributes: attrs({ 'messaging.system': 'kafka' }),
    }),
  ];
}

/** A span using every field and every AnyValue type. */
export function fullSpan(tenant: string): SpanRecord {
  const everyValue = attrs({
    str: 'text with "quotes" and ünïcode',
    yes: true,
    no: false,
    bigInt: { intValue: '9007199254740993' },
    negInt: -5n,
    double: 1.25,
    zero: 0,
    bytes: { bytesValue: 'AAECAw==' },
    list: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, { arrayValue: { values: [{ boolValue: true }] } }] } },
    map: { kvlistValue: { values: [{ key: 'a', value: { stringValue: 'b' } }, { key: 'nested', value: { kvlistValue: { values: [{ key: 'c', value: { doubleValue: 2.5 } }] } } }] } },
    empty: {},
  });
  return span({
    tenant,
    traceId: traceId(0xabc),
    spanId: spanId(0xdef),
    parentSpanId: spanId(0x123),
    traceState: 'vendor=value,other=1',
    flags: 257,
    name: 'full',
    kind: 4,
    startTimeUnixNano: T0 + 123_456_789n,
    endTimeUnixNano: T0 + 987_654_321n,
    attributes: everyValue,
    droppedAttributesCount: 3,
    events: [
      { timeUnixNano: T0 + 5n, name: 'exception', attributes: attrs({ 'exception.type': 'Error', count: 2n }), droppedAttributesCount: 1 },
      { timeUnixNano: 2n ** 62n + 1n, name: 'late', attributes: [], droppedAttributesCount: 0 },
    ],
    droppedEventsCount: 2,
    links: [{ traceId: traceId(0x999), spanId: spanId(0x998), traceState: 'a=b', flags: 1, attributes: everyValue.slice(0, 4), droppedAttributesCount: 4 }],
    droppedLinksCount: 5,
    status: { code: 2, message: 'boom' },
    resource: { attributes: attrs({ 'service.name': 'full-svc', 'host.cpu': 8n }), droppedAttributesCount: 7, schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' },
    scope: { ...scope('full-lib', '2.0.0'), attributes: attrs({ 'scope.attr': true }), droppedAttributesCount: 1, schemaUrl: 'https://example.com/scope' },
  });
}

const names = (spans: readonly SpanRecord[]) => spans.map((s) => s.name).sort();

/**
 * Filters over sampleSpans and the span names each must match (sorted): every TraceStore, and the
 * gateway's in-memory matcher (src/stores/filter-match.ts), are held to them.
 */
export const spanFilterCases: readonly [label: string, filter: TelemetryFilter, names: string[]][] = [
  ['no filter', {}, ['GET /cart', 'POST /pay', 'SELECT cart', 'consume', 'render']],
  ['attribute eq', { attributes: [{ key: 'http.method', op: 'eq', value: 'GET' }] }, ['GET /cart']],
  ['attribute neq (the attribute must exist)', { attributes: [{ key: 'http.method', op: 'neq', value: 'GET' }] }, ['POST /pay']],
  ['attribute in', { attributes: [{ key: 'http.method', op: 'in', values: ['GET', 'POST'] }] }, ['GET /cart', 'POST /pay']],
  ['attribute regex matching the whole value', { attributes: [{ key: 'http.method', op: 'regex', value: 'P.*' }] }, ['POST /pay']],
  ['attribute regex not matching a substring only', { attributes: [{ key: 'http.method', op: 'regex', value: 'OS' }] }, []],
  ['attribute exists', { attributes: [{ key: 'db.system', op: 'exists' }] }, ['SELECT cart']],
  ['attribute gt on an int', { attributes: [{ key: 'http.status_code', op: 'gt', number: 399 }] }, ['POST /pay']],
  ['attribute gte', { attributes: [{ key: 'http.status_code', op: 'gte', number: 200 }] }, ['GET /cart', 'POST /pay']],
  ['attribute lt', { attributes: [{ key: 'http.status_code', op: 'lt', number: 300 }] }, ['GET /cart']],
  ['attribute lte', { attributes: [{ key: 'http.status_code', op: 'lte', number: 200 }] }, ['GET /cart']],
  ['attribute gt on a double', { attributes: [{ key: 'amount', op: 'gt', number: 10 }] }, ['POST /pay']],
  ['attribute gt with the number given as a string value', { attributes: [{ key: 'amount', op: 'gt', value: '10' }] }, ['POST /pay']],
  ['attribute lt on a non-numeric value', { attributes: [{ key: 'user.id', op: 'lt', number: 5 }] }, []],
  ['attribute found on the resource', { attributes: [{ key: 'service.name', op: 'eq', value: 'db' }] }, ['SELECT cart']],
  ['span attribute shadowing the resource one', { attributes: [{ key: 'deployment.environment', op: 'eq', value: 'prod' }] }, ['GET /cart', 'SELECT cart']],
  ['span attribute over the resource one', { attributes: [{ key: 'deployment.environment', op: 'eq', value: 'canary' }] }, ['render']],
  ['two attribute conditions are ANDed', { attributes: [{ key: 'http.method', op: 'exists' }, { key: 'http.status_code', op: 'lt', number: 300 }] }, ['GET /cart']],
  ['telemetrySource from the resource', { telemetrySource: ['claude-code'] }, ['POST /pay', 'consume']],
  ['service', { service: ['checkout'] }, ['GET /cart', 'render']],
  ['name', { name: ['render', 'consume'] }, ['consume', 'render']],
  ['status ERROR', { status: ['ERROR'] }, ['POST /pay', 'SELECT cart']],
  ['status UNSET and OK', { status: ['UNSET', 'OK'] }, ['GET /cart', 'consume', 'render']],
  ['kind', { kind: [1, 5] }, ['consume', 'render']],
  ['minDuration', { minDuration: 100n * MS }, ['GET /cart', 'POST /pay']],
  ['maxDuration', { maxDuration: 20n * MS }, ['SELECT cart', 'consume']],
  ['traceId, in any letter case', { traceId: [t2, t3.toUpperCase()] }, ['POST /pay', 'consume']],
  ['spanId', { spanId: [spanId(0x12)] }, ['SELECT cart']],
  ['time range from', { timeRange: { from: T0 + 500n * MS } }, ['POST /pay', 'consume']],
  ['time range to (inclusive)', { timeRange: { to: T0 + 40n * MS } }, ['GET /cart', 'SELECT cart', 'render']],
  ['not', { not: { service: ['checkout'] } }, ['POST /pay', 'SELECT cart', 'consume']],
  ['not over a missing attribute', { not: { attributes: [{ key: 'db.system', op: 'eq', value: 'postgresql' }] } }, ['GET /cart', 'POST /pay', 'consume', 'render']],
  ['or', { or: [{ name: ['render'] }, { status: ['ERROR'] }] }, ['POST /pay', 'SELECT cart', 'render']],
  ['and with a nested or', { and: [{ service: ['checkout'] }, { or: [{ kind: [1] }, { minDuration: 100n * MS }] }] }, ['GET /cart', 'render']],
  ['or with a nested not', { or: [{ not: { service: ['checkout', 'db', 'payments'] } }, { name: ['consume'] }] }, ['consume']],
  ['not of not', { not: { not: { service: ['db'] } } }, ['SELECT cart']],
  ['empty lists count as unset', { service: [], attributes: [], or: [] }, ['GET /cart', 'POST /pay', 'SELECT cart', 'consume', 'render']],
  ['a user value matched literally', { service: ["checkout' OR '1'='1"] }, []],
];

export function traceStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend} TraceStore contract`, () => {
    let store: StoreUnderTest;
    const tenant = freshTenant('traces');
    const otherTenant = freshTenant('traces-other');

    before(async () => {
      store = await open();
      await store.writer.writeSpans(sampleSpans(tenant));
      await store.writer.writeSpans([
        span({ tenant: otherTenant, traceId: t1, spanId: spanId(0x11), name: 'tenant-b-span', resource: resource('other-svc') }),
      ]);
    });
    after(() => store?.close());

    const search = async (filter: TelemetryFilter) => (await store.traces.searchSpans(tenant, filter, { first: 100 })).items.map((i) => i.node);

    it('returns every field of a span exactly as written', async () => {
      const t = freshTenant('lossless');
      const full = fullSpan(t);
      await store.writer.writeSpans([full]);
      assert.deepEqual(await store.traces.getTraces(t, [full.traceId]), [[full]]);
      assert.deepEqual(await store.traces.getSpans(t, [{ traceId: full.traceId, spanId: full.spanId }]), [full]);
      assert.deepEqual((await store.traces.searchSpans(t, {}, { first: 10 })).items.map((i) => i.node), [full]);
    });

    it('getTraces returns one list per requested ID in key order, empty for a missing trace', async () => {
      const [a, missing, b, again] = await store.traces.getTraces(tenant, [t2, traceId(0xdead), t1, t2]);
      assert.deepEqual(names(a!), ['POST /pay']);
      assert.deepEqual(missing, []);
      assert.deepEqual(b!.map((s) => s.name), ['GET /cart', 'SELECT cart', 'render'], 'spans in start order');
      assert.deepEqual(again, a);
      assert.deepEqual(await store.traces.getTraces(tenant, []), []);
    });

    it('getSpans returns the span for each reference and null for a missing one', async () => {
      const found = await store.traces.getSpans(tenant, [
        { traceId: t1, spanId: spanId(0x13) },
        { traceId: t1, spanId: spanId(0x99) },
        { traceId: t2, spanId: spanId(0x21) },
      ]);
      assert.deepEqual(found.map((s) => s?.name ?? null), ['render', null, 'POST /pay']);
    });

    it('searchTraces returns the newest matching traces with their summaries', async () => {
      const summaries = await store.traces.searchTraces(tenant, {}, 10);
      const expected: TraceSummary[] = [
        // t3's root never arrived: its root is the earliest span whose parent was not received, as Trace.rootSpan's.
        { traceId: t3, rootServiceName: 'payments', rootSpanName: 'consume', startTimeUnixNano: T0 + 2n * SEC, durationNano: 5n * MS, spanCount: 1, errorCount: 0, services: ['payments'] },
        { traceId: t2, rootServiceName: 'payments', rootSpanName: 'POST /pay', startTimeUnixNano: T0 + SEC, durationNano: 500n * MS, spanCount: 1, errorCount: 1, services: ['payments'] },
        { traceId: t1, rootServiceName: 'checkout', rootSpanName: 'GET /cart', startTimeUnixNano: T0, durationNano: 100n * MS, spanCount: 3, errorCount: 1, services: ['checkout', 'db'] },
      ];
      assert.deepEqual(summaries, expected);
      assert.deepEqual((await store.traces.searchTraces(tenant, {}, 2)).map((s) => s.traceId), [t3, t2]);
    });

    it('searchTraces matches a trace by any of its spans and summarises all of them', async () => {
      const [summary, ...rest] = await store.traces.searchTraces(tenant, { service: ['db'] }, 10);
      assert.equal(rest.length, 0);
      assert.equal(summary!.traceId, t1);
      assert.equal(summary!.spanCount, 3);
      assert.deepEqual(summary!.services, ['checkout', 'db']);
    });

    it('a span written twice is one span: in its trace, its summary, by ID and on pages of every size', async () => {
      // An export retried after a timeout (OTLP delivery is at least once); the resend may say more.
      const t = freshTenant('twice');
      const id = traceId(0x7777);
      const root = span({ tenant: t, traceId: id, spanId: spanId(1), name: 'root', startTimeUnixNano: T0, endTimeUnixNano: T0 + 50n * MS });
      const child = span({ tenant: t, traceId: id, spanId: spanId(2), parentSpanId: spanId(1), name: 'child', startTimeUnixNano: T0 + MS, endTimeUnixNano: T0 + 10n * MS });
      const childResent: SpanRecord = { ...child, endTimeUnixNano: T0 + 20n * MS, status: { code: StatusCode.ERROR, message: 'boom' } };
      await store.writer.writeSpans([root, child]);
      await store.writer.writeSpans([root, childResent]);
      assert.deepEqual(await store.traces.getTraces(t, [id]), [[root, childResent]]);
      assert.deepEqual(await store.traces.getSpans(t, [{ traceId: id, spanId: spanId(2) }]), [childResent]);
      const [summary] = await store.traces.searchTraces(t, {}, 10);
      assert.deepEqual([summary!.spanCount, summary!.errorCount, summary!.durationNano], [2, 1, 50n * MS]);
      for (const first of [1, 2, 3]) {
        for (const order of ['NEWEST_FIRST', 'OLDEST_FIRST'] as const) {
          const seen: SpanRecord[] = [];
          let after: string | undefined;
          for (let pages = 0; pages < 5; pages++) {
            const page = await store.traces.searchSpans(t, {}, { first, order, ...(after && { after }) });
            seen.push(...page.items.map((i) => i.node));
            if (!page.hasNextPage) break;
            after = page.endCursor!;
          }
          assert.deepEqual(seen.map((x) => x.name).sort(), ['child', 'root'], `first ${first}, ${order}`);
          assert.deepEqual(seen.find((x) => x.name === 'child'), childResent, `first ${first}, ${order}`);
        }
      }
    });

    it('searchTraces picks the newest traces by their start, the order it lists them in: each limit is a prefix of the next', async () => {
      // A matches only by a child that started last; B's match is a child too; C has a stale copy
      // (ends earlier, so not the copy shown) that starts before every other span of C.
      const t = freshTenant('trace-order');
      const [a, b, c] = [traceId(0x7201), traceId(0x7202), traceId(0x7203)];
      const web = resource('web');
      const db = resource('db');
      const cOp = span({ tenant: t, traceId: c, spanId: spanId(5), name: 'C-op', resource: db, startTimeUnixNano: T0 + 60n * SEC, endTimeUnixNano: T0 + 61n * SEC });
      await store.writer.writeSpans([
        span({ tenant: t, traceId: a, spanId: spanId(1), name: 'A-root', resource: web, startTimeUnixNano: T0, endTimeUnixNano: T0 + 101n * SEC }),
        span({ tenant: t, traceId: b, spanId: spanId(3), name: 'B-root', resource: web, startTimeUnixNano: T0 + 50n * SEC, endTimeUnixNano: T0 + 52n * SEC }),
        { ...cOp, name: 'C-stale', startTimeUnixNano: T0 + 40n * SEC, endTimeUnixNano: T0 + 60n * SEC + 500n * MS },
      ]);
      // Later batches: the trace_ranges of A and C get a second row each.
      await store.writer.writeSpans([
        span({ tenant: t, traceId: a, spanId: spanId(2), parentSpanId: spanId(1), name: 'A-db', resource: db, startTimeUnixNano: T0 + 100n * SEC, endTimeUnixNano: T0 + 100n * SEC }),
        span({ tenant: t, traceId: b, spanId: spanId(4), parentSpanId: spanId(3), name: 'B-db', resource: db, startTimeUnixNano: T0 + 51n * SEC, endTimeUnixNano: T0 + 51n * SEC }),
      ]);
      await store.writer.writeSpans([cOp]);
      const expected = [
        [c, 'C-op', T0 + 60n * SEC],
        [b, 'B-root', T0 + 50n * SEC],
        [a, 'A-root', T0],
      ];
      for (const filter of [{ service: ['db'] }, { service: ['db'], timeRange: { from: T0 + 10n * SEC, to: T0 + 200n * SEC } }] satisfies TelemetryFilter[]) {
        for (const limit of [1, 2, 3, 4]) {
          const found = await store.traces.searchTraces(t, filter, limit);
          assert.deepEqual(found.map((x) => [x.traceId, x.rootSpanName, x.startTimeUnixNano]), expected.slice(0, limit), `${JSON.stringify(filter.timeRange ?? {}, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}, limit ${limit}`);
        }
      }
    });

    it('searchTraces keeps the newest traces when many older ones match, and when a trace that started long before is still running', async () => {
      const t = freshTenant('trace-order-many');
      // 40 one-span traces 1 s apart, then a long trace whose root started before all of them and
      // whose child started after them.
      const short = Array.from({ length: 40 }, (_, i) =>
        span({ tenant: t, traceId: traceId(0x7300 + i), spanId: spanId(0x7300 + i), name: `short-${i}`, startTimeUnixNano: T0 + BigInt(i) * SEC, endTimeUnixNano: T0 + BigInt(i) * SEC + MS }),
      );
      const long = traceId(0x73ff);
      await store.writer.writeSpans(short.slice(0, 20));
      await store.writer.writeSpans([span({ tenant: t, traceId: long, spanId: spanId(0x7401), name: 'long-root', startTimeUnixNano: T0 - SEC, endTimeUnixNano: T0 + 100n * SEC })]);
      await store.writer.writeSpans(short.slice(20));
      await store.writer.writeSpans([span({ tenant: t, traceId: long, spanId: spanId(0x7402), parentSpanId: spanId(0x7401), name: 'long-child', startTimeUnixNano: T0 + 99n * SEC, endTimeUnixNano: T0 + 99n * SEC })]);
      const all = (await store.traces.searchTraces(t, {}, 100)).map((x) => x.rootSpanName);
      assert.deepEqual(all, [...short.map((x) => x.name).reverse(), 'long-root']);
      for (const limit of [1, 5, 39, 40, 41]) assert.deepEqual((await store.traces.searchTraces(t, {}, limit)).map((x) => x.rootSpanName), all.slice(0, limit), `limit ${limit}`);
    });

    it("a trace summary reads each span's preferred copy, as its Trace does: not the copy that ends earlier", async () => {
      const t = freshTenant('summary-copies');
      const [failedThenOk, restarted] = [traceId(0x7501), traceId(0x7502)];
      // Failed, then resent ending later as OK; and a resend that starts 5 ms earlier but ends earlier.
      const f1 = span({ tenant: t, traceId: failedThenOk, spanId: spanId(1), name: 'op', startTimeUnixNano: T0, endTimeUnixNano: T0 + 100n * MS, status: { code: StatusCode.ERROR, message: 'x' } });
      const f2 = span({ tenant: t, traceId: restarted, spanId: spanId(2), name: 'first-copy', startTimeUnixNano: T0 + SEC, endTimeUnixNano: T0 + SEC + 100n * MS });
      await store.writer.writeSpans([f1, f2]);
      await store.writer.writeSpans([
        { ...f1, endTimeUnixNano: T0 + 200n * MS, status: { code: StatusCode.OK, message: '' } },
        { ...f2, name: 'resend', startTimeUnixNano: T0 + SEC - 5n * MS, endTimeUnixNano: T0 + SEC + 90n * MS },
      ]);
      const summaries = await store.traces.searchTraces(t, {}, 10);
      assert.deepEqual(
        summaries.map((x) => [x.traceId, x.rootSpanName, x.startTimeUnixNano, x.durationNano, x.spanCount, x.errorCount]),
        [
          [restarted, 'first-copy', T0 + SEC, 100n * MS, 1, 0],
          [failedThenOk, 'op', T0, 200n * MS, 1, 0],
        ],
      );
      const [a, b] = await store.traces.getTraces(t, [restarted, failedThenOk]);
      assert.deepEqual([a!.map((x) => x.name), b!.map((x) => x.status.code)], [['first-copy'], [StatusCode.OK]]);
      // Neither trace has an ERROR span, nor a span named 'resend': their stale copies match no trace
      // search (`spans` pages still list them: docs/known-gaps.md).
      assert.deepEqual(await store.traces.searchTraces(t, { status: ['ERROR'] }, 10), []);
      assert.deepEqual(await store.traces.searchTraces(t, { name: ['resend'] }, 1), []);
    });

    it('a stale copy that alone matched among the newest traces does not hide an older match', async () => {
      const t = freshTenant('stale-newest');
      const [stale, older] = [traceId(0x7601), traceId(0x7602)];
      const s = span({ tenant: t, traceId: stale, spanId: spanId(1), name: 'op', startTimeUnixNano: T0 + 10n * SEC, endTimeUnixNano: T0 + 10n * SEC + MS, status: { code: StatusCode.ERROR, message: '' } });
      await store.writer.writeSpans([
        s,
        span({ tenant: t, traceId: older, spanId: spanId(2), name: 'failed', startTimeUnixNano: T0, endTimeUnixNano: T0 + MS, status: { code: StatusCode.ERROR, message: '' } }),
      ]);
      await store.writer.writeSpans([{ ...s, endTimeUnixNano: T0 + 10n * SEC + 2n * MS, status: { code: StatusCode.OK, message: '' } }]);
      assert.deepEqual((await store.traces.searchTraces(t, { status: ['ERROR'] }, 1)).map((x) => x.rootSpanName), ['failed']);
    });

    it('of two copies that end together, every read shows the same one whichever was stored first', async () => {
      const id = traceId(0x7701);
      // Equal ends; the ERROR copy wins over the others (status before start, name and parent).
      const copies = (t: string) => {
        const base = span({ tenant: t, traceId: id, spanId: spanId(1), name: 'op', startTimeUnixNano: T0, endTimeUnixNano: T0 + 10n * MS });
        return [
          { ...base, status: { code: StatusCode.ERROR, message: 'failed' } },
          { ...base, name: 'op-renamed' },
          { ...base, parentSpanId: spanId(9) },
          base,
        ];
      };
      // Equal ends and statuses: the later start wins.
      const starts = (t: string) => {
        const base = span({ tenant: t, traceId: traceId(0x7702), spanId: spanId(2), name: 'early', startTimeUnixNano: T0, endTimeUnixNano: T0 + 10n * MS });
        return [{ ...base, name: 'late', startTimeUnixNano: T0 + MS }, base];
      };
      for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]]) {
        const t = freshTenant('ties');
        const [all, two] = [copies(t), starts(t)];
        for (const i of order) await store.writer.writeSpans([all[i]!, two[i % 2]!]);
        const [trace, other] = await store.traces.getTraces(t, [id, traceId(0x7702)]);
        const [bySpanId] = await store.traces.getSpans(t, [{ traceId: id, spanId: spanId(1) }]);
        const page = (await store.traces.searchSpans(t, { traceId: [id] }, { first: 10 })).items.map((i) => i.node);
        assert.deepEqual([trace!.length, page.length], [1, 1]);
        for (const x of [trace![0]!, bySpanId!, page[0]!]) assert.deepEqual(x, all[0], `stored in order ${order.join()}`);
        assert.deepEqual(other, [two[0]], `stored in order ${order.join()}`);
        const summaries = await store.traces.searchTraces(t, {}, 10);
        assert.deepEqual(
          summaries.map((x) => [x.rootSpanName, x.errorCount, x.startTimeUnixNano, x.durationNano]),
          [['late', 0, T0 + MS, 9n * MS], ['op', 1, T0, 10n * MS]],
          `stored in order ${order.join()}`,
        );
      }
    });

    it("a summary's root follows Trace.rootSpan's rule, and a span ending before it starts makes no trace negative", async () => {
      const t = freshTenant('roots');
      const orphans = traceId(0x7001);
      const cycle = traceId(0x7002);
      const skewed = traceId(0x7003);
      await store.writer.writeSpans([
        // Root missing: the earliest orphan (its child starts between the two orphans).
        span({ tenant: t, traceId: orphans, spanId: spanId(1), parentSpanId: spanId(0xe1), name: 'late-orphan', startTimeUnixNano: T0 + 20n * MS, endTimeUnixNano: T0 + 30n * MS }),
        span({ tenant: t, traceId: orphans, spanId: spanId(2), parentSpanId: spanId(0xe2), name: 'early-orphan', startTimeUnixNano: T0 + 10n * MS, endTimeUnixNano: T0 + 40n * MS }),
        span({ tenant: t, traceId: orphans, spanId: spanId(3), parentSpanId: spanId(2), name: 'kid', startTimeUnixNano: T0 + 11n * MS, endTimeUnixNano: T0 + 12n * MS }),
        // Parents in a cycle (a span its own parent, and A → B → A): the earliest.
        span({ tenant: t, traceId: cycle, spanId: spanId(4), parentSpanId: spanId(5), name: 'a', startTimeUnixNano: T0 + 2n * MS, endTimeUnixNano: T0 + 3n * MS }),
        span({ tenant: t, traceId: cycle, spanId: spanId(5), parentSpanId: spanId(4), name: 'b', startTimeUnixNano: T0 + 4n * MS, endTimeUnixNano: T0 + 5n * MS }),
        span({ tenant: t, traceId: cycle, spanId: spanId(6), parentSpanId: spanId(6), name: 'self', startTimeUnixNano: T0 + 6n * MS, endTimeUnixNano: T0 + 7n * MS }),
        // Ends 10 ms before it starts.
        span({ tenant: t, traceId: skewed, spanId: spanId(7), name: 'skewed', startTimeUnixNano: T0 + 10n * MS, endTimeUnixNano: T0 }),
      ]);
      const byId = new Map((await store.traces.searchTraces(t, {}, 10)).map((x) => [x.traceId, x]));
      assert.equal(byId.get(orphans)!.rootSpanName, 'early-orphan');
      assert.equal(byId.get(cycle)!.rootSpanName, 'a');
      assert.equal(byId.get(skewed)!.rootSpanName, 'skewed');
      assert.equal(byId.get(skewed)!.durationNano, 0n);
      // Duration filters read it as lasting 0, as Span.duration does (it was -10 ms: minDuration 0 left it out).
      const lasting = async (filter: TelemetryFilter) => names((await store.traces.searchSpans(t, filter, { first: 10 })).items.map((i) => i.node));
      assert.deepEqual(await lasting({ maxDuration: 0n }), ['skewed']);
      assert.ok((await lasting({ minDuration: 0n })).includes('skewed'));
    });

    it('a NaN attribute matches no numeric comparison; infinities compare as numbers', async () => {
      const t = freshTenant('nan');
      await store.writer.writeSpans(
        ([['nan', NaN], ['inf', Infinity], ['ninf', -Infinity], ['three', 3], ['big', 1e300]] as const).map(([name, d], i) =>
          span({ tenant: t, traceId: traceId(0x7100 + i), spanId: spanId(i + 1), name, attributes: [{ key: 'd', value: { doubleValue: d } }] }),
        ),
      );
      const matching = async (op: 'gt' | 'gte' | 'lt' | 'lte', number: number) =>
        names((await store.traces.searchSpans(t, { attributes: [{ key: 'd', op, number }] }, { first: 10 })).items.map((i) => i.node));
      assert.deepEqual(await matching('gt', 1e10), ['big', 'inf']);
      assert.deepEqual(await matching('gte', 3), ['big', 'inf', 'three']);
      assert.deepEqual(await matching('lt', 1e10), ['ninf', 'three']);
      assert.deepEqual(await matching('lte', 3), ['ninf', 'three']);
    });

    for (const [label, filter, expected] of spanFilterCases) {
      it(`searchSpans filters by ${label}`, async () => {
        assert.deepEqual(names(await search(filter)), expected);
      });
    }

    it('searchTraces applies the same filters', async () => {
      const found = await store.traces.searchTraces(tenant, { attributes: [{ key: 'amount', op: 'gte', number: 12.5 }] }, 10);
      assert.deepEqual(found.map((s) => s.traceId), [t2]);
    });

    it('an invalid regex is a BAD_QUERY', async () => {
      const filter: TelemetryFilter = { or: [{ attributes: [{ key: 'http.method', op: 'regex', value: '(unclosed' }] }] };
      await rejectsWith(store.traces.searchSpans(tenant, filter, { first: 10 }), 'BAD_QUERY', '(unclosed');
      await rejectsWith(store.traces.searchTraces(tenant, filter, 10), 'BAD_QUERY');
    });

    it('a log-only filter field is a BAD_QUERY naming the field', async () => {
      await rejectsWith(store.traces.searchSpans(tenant, { minSeverity: 9 }, { first: 10 }), 'BAD_QUERY', 'minSeverity');
      await rejectsWith(store.traces.searchTraces(tenant, { and: [{ bodyContains: 'x' }] }, 10), 'BAD_QUERY', 'bodyContains');
    });

    it('an attribute condition without its value is a BAD_QUERY', async () => {
      await rejectsWith(search({ attributes: [{ key: 'http.method', op: 'eq' }] }), 'BAD_QUERY');
      await rejectsWith(search({ attributes: [{ key: 'http.method', op: 'gt' }] }), 'BAD_QUERY');
    });

    it('a user value is matched literally, never run as SQL', async () => {
      assert.deepEqual(await search({ service: ["checkout' OR '1'='1"] }), []);
      assert.deepEqual(await search({ attributes: [{ key: "x'] OR true --", op: 'exists' }] }), []);
    });

    it('pages through spans newest first without gaps or duplicates, also while spans arrive', async () => {
      const t = freshTenant('paging');
      // Groups of three spans share a start time, so the page boundaries fall inside ties.
      const spans = Array.from({ length: 25 }, (_, i) =>
        span({ tenant: t, traceId: traceId(1000 + (i % 4)), spanId: spanId(5000 + i), name: `s${i}`, startTimeUnixNano: T0 + BigInt(Math.floor(i / 3)) * MS }),
      );
      await store.writer.writeSpans(spans);
      const seen: string[] = [];
      let after: string | undefined;
      for (let pageNo = 0; ; pageNo++) {
        const page = await store.traces.searchSpans(t, {}, { first: 7, after });
        seen.push(...page.items.map((i) => i.node.name));
        if (pageNo === 0) {
          // Newer spans arriving mid-way must not shift the pages still to come.
          await store.writer.writeSpans([span({ tenant: t, traceId: traceId(2000), spanId: spanId(9000), name: 'late', startTimeUnixNano: T0 + SEC })]);
        }
        if (!page.hasNextPage) {
          assert.equal(page.endCursor, page.items.at(-1)?.cursor ?? null);
          break;
        }
        after = page.endCursor!;
      }
      assert.equal(seen.length, 25);
      assert.equal(new Set(seen).size, 25);
      const byStart = new Map(spans.map((s) => [s.name, s.startTimeUnixNano]));
      for (let i = 1; i < seen.length; i++) assert.ok(byStart.get(seen[i - 1]!)! >= byStart.get(seen[i]!)!, 'newest first');

      const oldest: string[] = [];
      after = undefined;
      do {
        const page = await store.traces.searchSpans(t, {}, { first: 10, after, order: 'OLDEST_FIRST' });
        oldest.push(...page.items.map((i) => i.node.name));
        after = page.hasNextPage ? page.endCursor! : undefined;
      } while (after);
      assert.deepEqual(oldest, [...seen.slice().reverse(), 'late']);
    });

    it('keeps a span kind SpanKind does not name as sent; a kind filter on UNSPECIFIED finds it, operations list it as UNSPECIFIED', async () => {
      const t = freshTenant('open-kinds');
      const kinds = [0, 9, -1, 2];
      await store.writer.writeSpans(kinds.map((kind, i) => span({ tenant: t, traceId: traceId(0x700 + i), spanId: spanId(0x700 + i), name: i === 3 ? 'known' : 'future', kind, startTimeUnixNano: T0 + BigInt(i) * MS })));
      const search = async (filter: TelemetryFilter) => (await store.traces.searchSpans(t, filter, { first: 10, order: 'OLDEST_FIRST' })).items.map((i) => i.node.kind);
      assert.deepEqual(await search({}), kinds);
      assert.deepEqual(await search({ kind: [0] }), [0, 9, -1]);
      assert.deepEqual(await search({ kind: [2] }), [2]);
      assert.deepEqual(await search({ kind: [0, 2] }), kinds);
      assert.deepEqual(await store.traces.operations(t, 'checkout'), [{ name: 'future', kind: 0 }, { name: 'known', kind: 2 }]);
    });

    it('a cursor the store did not issue is a BAD_ARGUMENT', async () => {
      await rejectsWith(store.traces.searchSpans(tenant, {}, { first: 5, after: 'not-a-cursor' }), 'BAD_ARGUMENT');
      // A forged one that decodes, with a start time past int64 (found by security QA: the backend failed).
      const issued = (await store.traces.searchSpans(tenant, {}, { first: 1 })).endCursor!;
      const { o, k } = JSON.parse(Buffer.from(issued, 'base64url').toString('utf8')) as { o: string; k: string[] };
      const forged = Buffer.from(JSON.stringify({ o, k: ['9'.repeat(26), ...k.slice(1)] })).toString('base64url');
      await rejectsWith(store.traces.searchSpans(tenant, {}, { first: 5, after: forged }), 'BAD_ARGUMENT', 'not one this store issued');
    });

    it('a cursor from a page of one order is a BAD_ARGUMENT with the other order, not a wrong page', async () => {
      await assertCursorKeepsItsOrder((page) => store.traces.searchSpans(tenant, {}, page), 2);
    });

    it('lists services and the operations of a service', async () => {
      assert.deepEqual(await store.traces.services(tenant), ['checkout', 'db', 'payments']);
      assert.deepEqual(await store.traces.services(tenant, { from: T0 + SEC }), ['payments']);
      assert.deepEqual(await store.traces.operations(tenant, 'checkout'), [
        { name: 'GET /cart', kind: 2 },
        { name: 'render', kind: 1 },
      ]);
      assert.deepEqual(await store.traces.operations(tenant, 'checkout', { from: T0 + 20n * MS }), [{ name: 'render', kind: 1 }]);
    });

    it('another tenant sees none of these spans through any method', async () => {
      const stranger = freshTenant('stranger');
      assert.deepEqual(await store.traces.getTraces(stranger, [t1, t2]), [[], []]);
      assert.deepEqual(await store.traces.getSpans(stranger, [{ traceId: t2, spanId: spanId(0x21) }]), [null]);
      assert.deepEqual(await store.traces.searchTraces(stranger, {}, 10), []);
      assert.deepEqual((await store.traces.searchSpans(stranger, {}, { first: 10 })).items, []);
      assert.deepEqual(await store.traces.services(stranger), []);
      assert.deepEqual(await store.traces.operations(stranger, 'checkout'), []);
      // A tenant that reuses a trace ID sees only its own span.
      const [own] = await store.traces.getTraces(otherTenant, [t1]);
      assert.deepEqual(names(own!), ['tenant-b-span']);
      assert.deepEqual((await store.traces.searchTraces(otherTenant, {}, 10)).map((s) => s.spanCount), [1]);
    });
  });
}
