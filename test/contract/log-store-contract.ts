// The LogStore contract: what every backend's logs must do, written against the interfaces only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AnyValue, LogRecord } from '../../src/model/telemetry.ts';
import type { StoredLogRecord, TelemetryFilter } from '../../src/stores/types.ts';
import { attrs, log, MS, resource, scope, SEC, spanId, T0, traceId } from '../helpers/telemetry-builders.ts';
import { assertCursorKeepsItsOrder, freshTenant, rejectsWith, type StoreFactory, type StoreUnderTest } from './store-under-test.ts';

const t1 = traceId(0x201);
const t2 = traceId(0x202);
const s1 = spanId(0x211);
const sDb = spanId(0x212);
const s2 = spanId(0x221);

function sampleLogs(tenant: string): LogRecord[] {
  const checkout = resource('checkout', { 'telemetry.source': 'claude-code' });
  return [
    log({ tenant, resource: checkout, timeUnixNano: T0, severityNumber: 9, severityText: 'INFO', body: { stringValue: 'User u1 logged in' }, traceId: t1, spanId: s1, attributes: attrs({ 'user.id': 'u1' }) }),
    log({ tenant, resource: checkout, timeUnixNano: T0 + 1n * MS, body: { stringValue: 'cart loaded' }, traceId: t1, spanId: s1 }),
    log({ tenant, resource: checkout, timeUnixNano: T0 + 2n * MS, body: { stringValue: 'cart rendered' }, traceId: t1, spanId: s1 }),
    // No event time: the observed time stands in for it.
    log({
      tenant, resource: resource('db'), timeUnixNano: 0n, observedTimeUnixNano: T0 + 5n * MS, severityNumber: 17, severityText: 'ERROR',
      body: { kvlistValue: { values: [{ key: 'message', value: { stringValue: 'DB timeout' } }, { key: 'code', value: { intValue: '504' } }] } },
      traceId: t1, spanId: sDb, eventName: 'db.error', attributes: attrs({ 'db.system': 'postgresql', retries: 3n }),
    }),
    log({ tenant, resource: resource('payments'), timeUnixNano: T0 + SEC, severityNumber: 13, severityText: 'WARN', body: { stringValue: 'card declined' }, traceId: t2, spanId: s2 }),
    log({ tenant, resource: resource('payments'), timeUnixNano: T0 + 2n * SEC, severityNumber: 5, severityText: 'DEBUG', body: { intValue: '42' } }),
  ];
}

const bodies = (logs: readonly StoredLogRecord[]) => logs.map((l) => JSON.stringify(l.body));
const withoutId = ({ id: _id, ...rest }: StoredLogRecord): LogRecord => rest;

export function logStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend} LogStore contract`, () => {
    let store: StoreUnderTest;
    const tenant = freshTenant('logs');
    let written: LogRecord[];

    before(async () => {
      store = await open();
      written = sampleLogs(tenant);
      await store.writer.writeLogs(written);
    });
    after(() => store?.close());

    const search = async (filter: TelemetryFilter) => (await store.logs.searchLogs(tenant, filter, { first: 100 })).items.map((i) => i.node);

    it('returns every field of a log exactly as written, for bodies of every type', async () => {
      const t = freshTenant('lossless-logs');
      const bodyValues: AnyValue[] = [
        { stringValue: 'plain' },
        { stringValue: '' },
        { boolValue: false },
        { intValue: '-9007199254740993' },
        { doubleValue: 0.1 },
        { bytesValue: 'AQID' },
        { arrayValue: { values: [{ stringValue: 'a' }, { kvlistValue: { values: [{ key: 'k', value: { boolValue: true } }] } }] } },
        { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'hi' } }, { key: 'empty', value: {} }] } },
        {},
        // What LogRecord.otlpBody must tell apart: doubles JSON writes wrong, and an int and a double of one value.
        { doubleValue: Number.NaN },
        { doubleValue: -Infinity },
        { doubleValue: -0 },
        { doubleValue: 2 },
        { intValue: '2' },
        { arrayValue: { values: [{ doubleValue: Infinity }, { doubleValue: -0 }] } },
      ];
      const logs = bodyValues.map((body, i) =>
        log({
          tenant: t, body, timeUnixNano: T0 + BigInt(i) * SEC, observedTimeUnixNano: T0 + BigInt(i) * SEC + 7n, severityNumber: 21,
          severityText: 'FATAL', attributes: attrs({ i: BigInt(i), list: { arrayValue: { values: [{ doubleValue: 1.5 }] } } }),
          droppedAttributesCount: 2, flags: 1, traceId: traceId(0x777), spanId: spanId(0x778), eventName: 'evt',
          resource: { attributes: attrs({ 'service.name': 'lossless' }), droppedAttributesCount: 1, schemaUrl: 'https://schema' },
          scope: { ...scope('log-lib', '0.1'), attributes: attrs({ s: 's' }), droppedAttributesCount: 3, schemaUrl: 'https://scope' },
        }),
      );
      logs.push(log({ tenant: t, timeUnixNano: 0n, observedTimeUnixNano: T0 + 100n * SEC, traceId: '', spanId: '', severityText: '' }));
      await store.writer.writeLogs(logs);
      const page = await store.logs.searchLogs(t, {}, { first: 100, order: 'OLDEST_FIRST' });
      assert.deepEqual(page.items.map((i) => withoutId(i.node)), logs);
      const ids = page.items.map((i) => i.node.id);
      assert.equal(new Set(ids).size, ids.length, 'IDs are unique');
      assert.deepEqual((await store.logs.getLogs(t, ids)).map((l) => l && withoutId(l)), logs);
    });

    const cases: [string, TelemetryFilter, string[]][] = [
      ['minSeverity', { minSeverity: 13 }, ['DB timeout', 'card declined']],
      ['bodyContains on a string body, ignoring case', { bodyContains: 'LOGGED' }, ['User u1 logged in']],
      ['bodyContains on a structured body', { bodyContains: 'db timeout' }, ['DB timeout']],
      ['event name', { name: ['db.error'] }, ['DB timeout']],
      ['traceId', { traceId: [t2] }, ['card declined']],
      ['spanId', { spanId: [sDb] }, ['DB timeout']],
      ['service', { service: ['payments'] }, ['42', 'card declined']],
      ['telemetrySource from the resource', { telemetrySource: ['claude-code'] }, ['User u1 logged in', 'cart loaded', 'cart rendered']],
      ['attribute eq', { attributes: [{ key: 'db.system', op: 'eq', value: 'postgresql' }] }, ['DB timeout']],
      ['attribute gt', { attributes: [{ key: 'retries', op: 'gt', number: 2 }] }, ['DB timeout']],
      ['attribute regex', { attributes: [{ key: 'user.id', op: 'regex', value: 'u[0-9]+' }] }, ['User u1 logged in']],
      ['resource attribute', { attributes: [{ key: 'service.name', op: 'eq', value: 'db' }] }, ['DB timeout']],
      ['time range, using the observed time when the event time is unset', { timeRange: { from: T0 + 3n * MS, to: T0 + SEC } }, ['DB timeout', 'card declined']],
      ['not and or', { or: [{ not: { service: ['checkout', 'db'] } }, { minSeverity: 17 }] }, ['42', 'DB timeout', 'card declined']],
    ];
    const text = (l: StoredLogRecord) => {
      const b = l.body as { stringValue?: string; intValue?: string; kvlistValue?: { values: { value: AnyValue }[] } };
      return b.stringValue ?? b.intValue ?? (b.kvlistValue?.values[0]?.value as { stringValue: string }).stringValue;
    };
    for (const [label, filter, expected] of cases) {
      it(`searchLogs filters by ${label}`, async () => {
        assert.deepEqual((await search(filter)).map(text).sort(), expected);
      });
    }

    it('searchLogs returns the newest logs first', async () => {
      assert.deepEqual((await search({})).map(text), ['42', 'card declined', 'DB timeout', 'cart rendered', 'cart loaded', 'User u1 logged in']);
    });

    it('a span-only filter field is a BAD_QUERY naming the field', async () => {
      await rejectsWith(search({ kind: [2] }), 'BAD_QUERY', 'kind');
      await rejectsWith(search({ not: { minDuration: 1n } }), 'BAD_QUERY', 'minDuration');
      await rejectsWith(search({ status: ['ERROR'] }), 'BAD_QUERY', 'status');
    });

    it('an invalid regex is a BAD_QUERY', async () => {
      await rejectsWith(search({ attributes: [{ key: 'user.id', op: 'regex', value: '[a-' }] }), 'BAD_QUERY');
    });

    it('pages through logs with equal timestamps without gaps or duplicates', async () => {
      const t = freshTenant('log-paging');
      const logs = Array.from({ length: 23 }, (_, i) => log({ tenant: t, timeUnixNano: T0 + BigInt(i % 5) * MS, body: { stringValue: `m${i}` } }));
      await store.writer.writeLogs(logs.slice(0, 12));
      await store.writer.writeLogs(logs.slice(12));
      for (const order of ['NEWEST_FIRST', 'OLDEST_FIRST'] as const) {
        const seen: StoredLogRecord[] = [];
        let after: string | undefined;
        do {
          const page = await store.logs.searchLogs(t, {}, { first: 4, after, order });
          assert.ok(page.items.length <= 4);
          seen.push(...page.items.map((i) => i.node));
          after = page.hasNextPage ? page.endCursor! : undefined;
        } while (after);
        assert.equal(new Set(seen.map((l) => l.id)).size, 23, order);
        const times = seen.map((l) => l.timeUnixNano);
        const sorted = [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        assert.deepEqual(times, order === 'OLDEST_FIRST' ? sorted : sorted.reverse(), order);
      }
    });

    it('a cursor from a page of one order is a BAD_ARGUMENT with the other order, not a wrong page', async () => {
      await assertCursorKeepsItsOrder((page) => store.logs.searchLogs(tenant, {}, page), 1);
    });

    it('logsForSpans returns each span its earliest logs in key order, empty for a span without logs', async () => {
      const result = await store.logs.logsForSpans(
        tenant,
        [{ traceId: t1, spanId: sDb }, { traceId: t1, spanId: spanId(0x999) }, { traceId: t1, spanId: s1 }, { traceId: t1, spanId: sDb }],
        2,
      );
      assert.deepEqual(result.map(bodies), [
        [JSON.stringify(written[3]!.body)],
        [],
        [JSON.stringify(written[0]!.body), JSON.stringify(written[1]!.body)],
        [JSON.stringify(written[3]!.body)],
      ]);
    });

    it('logsForTraces returns each trace its earliest logs in key order', async () => {
      const result = await store.logs.logsForTraces(tenant, [t2, traceId(0x999), t1], 10);
      assert.deepEqual(result.map((logs) => logs.map(text)), [
        ['card declined'],
        [],
        ['User u1 logged in', 'cart loaded', 'cart rendered', 'DB timeout'],
      ]);
      assert.deepEqual((await store.logs.logsForTraces(tenant, [t1], 1)).map((logs) => logs.map(text)), [['User u1 logged in']]);
    });

    it('getLogs returns the log for each ID and null for an unknown one', async () => {
      const [first] = await search({ traceId: [t2] });
      const found = await store.logs.getLogs(tenant, ['no-such-id', first!.id, '999999999999']);
      assert.deepEqual(found, [null, first, null]);
    });

    it('another tenant sees none of these logs through any method', async () => {
      const stranger = freshTenant('stranger');
      const ids = (await search({})).map((l) => l.id);
      assert.deepEqual((await store.logs.searchLogs(stranger, {}, { first: 10 })).items, []);
      assert.deepEqual(await store.logs.logsForSpans(stranger, [{ traceId: t1, spanId: s1 }], 10), [[]]);
      assert.deepEqual(await store.logs.logsForTraces(stranger, [t1, t2], 10), [[], []]);
      assert.deepEqual(await store.logs.getLogs(stranger, ids), ids.map(() => null));
    });
  });
}
