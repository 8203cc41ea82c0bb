// The row layout of spans and logs: resources and scopes stored once per tenant (parts.ts), filters on
// resource attributes through them, record attributes shadowing the resource's, and older files refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { silentLogger } from '../../../src/logger.ts';
import { createAlertSignals } from '../../../src/stores/duckdb/alert-signals.ts';
import { resourceMatches } from '../../../src/stores/duckdb/filter-sql.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import type { AttributeCondition, TelemetryFilter } from '../../../src/stores/types.ts';
import { rejectsWith } from '../../contract/store-under-test.ts';
import { attrs, log, resource, scope, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { tempStorePaths } from '../../helpers/temp-store.ts';

const tempPath = tempStorePaths('parts');

const open = (path: string) => openDuckDbStore({ path, logger: silentLogger(), threads: 2 });

const checkout = resource('checkout', { 'host.name': 'h1', 'deployment.environment': 'prod', 'k8s.pod.uid': {} });
const payments = resource('payments', { 'host.name': 'h2', 'deployment.environment': 'staging' });

/** Spans 1–3 on checkout (span 3 overrides host.name and has its own deployment.environment without value), 4 on payments. */
function spans(tenant: string) {
  return [
    span({ tenant, spanId: spanId(1), resource: checkout, attributes: attrs({ 'user.id': 'u1' }) }),
    span({ tenant, spanId: spanId(2), resource: checkout, scope: scope('other', '2'), startTimeUnixNano: T0 + 1n }),
    span({ tenant, spanId: spanId(3), resource: checkout, attributes: attrs({ 'host.name': 'h9', 'deployment.environment': {} }) }),
    span({ tenant, spanId: spanId(4), resource: payments, traceId: traceId(2) }),
  ];
}

describe('DuckDB row layout: resources and scopes kept once', () => {
  it('stores each resource and scope once per tenant, and reads them back after reopening', async () => {
    const path = tempPath();
    let store = await open(path);
    await store.writer.writeSpans(spans('a'));
    await store.writer.writeSpans(spans('a'));
    await store.writer.writeSpans(spans('b'));
    await store.writer.writeLogs([log({ tenant: 'a', resource: checkout })]);
    const counts = async () =>
      (await store.db.query(`SELECT tenant, (SELECT count(*) FROM resources r WHERE r.tenant = t.tenant) AS resources,
          (SELECT count(*) FROM scopes s WHERE s.tenant = t.tenant) AS scopes FROM (VALUES ('a'), ('b')) t(tenant) ORDER BY 1`)).map((r) => [
        r.tenant,
        Number(r.resources),
        Number(r.scopes),
      ]);
    assert.deepEqual(await counts(), [['a', 2, 2], ['b', 2, 2]]);
    const cols = await store.db.query(`SELECT column_name FROM duckdb_columns() WHERE table_name = 'spans'`);
    const names = cols.map((c) => c.column_name);
    assert.ok(names.includes('resource_id') && !names.includes('resource') && !names.includes('scope'));
    await store.close();

    store = await open(path);
    const [trace] = await store.traces.getTraces('a', [traceId(1)]);
    assert.equal(trace!.length, 3, 'spans 1–3, each written twice, read once');
    assert.deepEqual(trace![0]!.resource, checkout);
    assert.deepEqual(trace!.find((s) => s.spanId === spanId(2))!.scope, scope('other', '2'));
    const logs = await store.logs.searchLogs('a', {}, { first: 10 });
    assert.deepEqual(logs.items[0]!.node.resource, checkout);
    await store.writer.writeSpans(spans('a'));
    assert.deepEqual(await counts(), [['a', 2, 2], ['b', 2, 2]], 'known ids are loaded at open, not written again');
    await store.close();
  });

  it('a part written again (the bounded registry forgot it) still reads as one', async () => {
    const store = await open(':memory:');
    await store.writer.writeSpans(spans('a'));
    const answers = async () => ({
      trace: (await store.traces.getTraces('a', [traceId(1)]))[0]!.map((s) => [s.spanId, s.resource, s.scope]),
      byHost: (await store.traces.searchSpans('a', { attributes: [{ key: 'host.name', op: 'eq', value: 'h1' }] }, { first: 50 })).items.map((e) => e.node.spanId).sort(),
      hosts: await store.catalog.attributeValues('a', 'RESOURCE', 'host.name'),
      services: await store.traces.services('a'),
    });
    const once = await answers();
    await store.db.writeLane('spans').use(async (conn) => {
      await conn.run('INSERT INTO resources SELECT * FROM resources');
      await conn.run('INSERT INTO scopes SELECT * FROM scopes');
    });
    assert.deepEqual(await answers(), once);
    await store.close();
  });

  it('keys parts by content: a copy per span is one row; doubles JSON cannot tell apart stay distinct', async () => {
    const store = await open(':memory:');
    // A sender that repeats the resource and scope on every span (separate but equal objects).
    const copies = [1, 2, 3].map((n) => span({ tenant: 'a', spanId: spanId(n), resource: resource('copied', { 'host.name': 'h1' }), scope: scope('s', '1') }));
    // NaN, Infinity, -0 and 0 print alike (null / 0) through plain JSON.stringify.
    const odd = [NaN, Infinity, -Infinity, -0, 0].map((d, i) => span({ tenant: 'a', spanId: spanId(10 + i), resource: resource('odd', { weight: d }) }));
    await store.writer.writeSpans([...copies, ...odd]);
    await store.writer.writeSpans([span({ tenant: 'a', spanId: spanId(20), resource: resource('copied', { 'host.name': 'h1' }), scope: scope('s', '1') })]);
    const [row] = await store.db.query(
      `SELECT (SELECT count(*) FROM resources WHERE service_name = 'copied') AS copied, (SELECT count(*) FROM resources WHERE service_name = 'odd') AS odd,
         (SELECT count(DISTINCT resource_id) FROM spans WHERE span_id IN (${[1, 2, 3, 20].map((n) => `'${spanId(n)}'`).join(', ')})) AS ids`,
    );
    assert.deepEqual([Number(row!.copied), Number(row!.odd), Number(row!.ids)], [1, 5, 1]);
    const [trace] = await store.traces.getTraces('a', [traceId(1)]);
    for (const sent of odd) {
      const stored = trace!.find((s) => s.spanId === sent.spanId)!;
      assert.ok(Object.is((stored.resource.attributes[1]!.value as { doubleValue: number }).doubleValue, (sent.resource.attributes[1]!.value as { doubleValue: number }).doubleValue));
    }
    await store.close();
  });

  it('matches resource attributes through the resources table, with the record’s own attributes shadowing them', async () => {
    const store = await open(':memory:');
    await store.writer.writeSpans([...spans('a'), ...spans('b').map((s) => ({ ...s, resource: payments }))]);
    const ids = async (filter: TelemetryFilter) =>
      (await store.traces.searchSpans('a', filter, { first: 50 })).items.map((e) => e.node.spanId).sort();
    const attr = async (c: AttributeCondition) => ids({ attributes: [c] });
    const s = (...n: number[]) => n.map(spanId);
    assert.deepEqual(await attr({ key: 'service.name', op: 'eq', value: 'checkout' }), s(1, 2, 3));
    assert.deepEqual(await attr({ key: 'host.name', op: 'eq', value: 'h1' }), s(1, 2), 'span 3 has its own host.name');
    assert.deepEqual(await attr({ key: 'host.name', op: 'eq', value: 'h9' }), s(3));
    assert.deepEqual(await attr({ key: 'host.name', op: 'in', values: ['h9', 'h2'] }), s(3, 4));
    assert.deepEqual(await attr({ key: 'host.name', op: 'neq', value: 'h1' }), s(3, 4));
    assert.deepEqual(await attr({ key: 'host.name', op: 'regex', value: 'h[12]' }), s(1, 2, 4));
    assert.deepEqual(await attr({ key: 'deployment.environment', op: 'eq', value: 'prod' }), s(1, 2), 'a valueless own key shadows too');
    assert.deepEqual(await attr({ key: 'deployment.environment', op: 'exists' }), s(1, 2, 3, 4));
    assert.deepEqual(await attr({ key: 'k8s.pod.uid', op: 'exists' }), s(1, 2, 3));
    assert.deepEqual(await attr({ key: 'user.id', op: 'eq', value: 'u1' }), s(1));
    assert.deepEqual(await ids({ not: { attributes: [{ key: 'host.name', op: 'eq', value: 'h1' }] } }), s(3, 4));
    assert.deepEqual(
      await ids({ or: [{ attributes: [{ key: 'user.id', op: 'eq', value: 'u1' }] }, { attributes: [{ key: 'service.name', op: 'eq', value: 'payments' }] }] }),
      s(1, 4),
    );
    const traces = await store.traces.searchTraces('a', { attributes: [{ key: 'host.name', op: 'eq', value: 'h2' }] }, 10);
    assert.deepEqual(traces.map((t) => t.traceId), [traceId(2)]);
    // Tenant b has only the payments resource: its filters see its own resources alone.
    assert.deepEqual((await store.traces.searchSpans('b', { attributes: [{ key: 'service.name', op: 'eq', value: 'checkout' }] }, { first: 9 })).items, []);
    assert.deepEqual(await store.catalog.attributeValues('a', 'SPAN', 'host.name'), ['h1', 'h2', 'h9']);
    assert.deepEqual(await store.catalog.attributeValues('a', 'RESOURCE', 'host.name'), ['h1', 'h2']);
    assert.deepEqual(await store.catalog.attributeKeys('a', 'RESOURCE', undefined, 'deploy'), ['deployment.environment']);
    await store.close();
  });

  it('matches log filters on resource attributes the same way', async () => {
    const store = await open(':memory:');
    await store.writer.writeLogs([
      log({ tenant: 'a', resource: checkout, body: { stringValue: 'one' } }),
      log({ tenant: 'a', resource: payments, body: { stringValue: 'two' }, attributes: attrs({ 'host.name': 'h1' }) }),
    ]);
    const bodies = async (c: AttributeCondition) =>
      (await store.logs.searchLogs('a', { attributes: [c] }, { first: 9 })).items.map((e) => (e.node.body as { stringValue: string }).stringValue).sort();
    assert.deepEqual(await bodies({ key: 'host.name', op: 'eq', value: 'h1' }), ['one', 'two']);
    assert.deepEqual(await bodies({ key: 'service.name', op: 'eq', value: 'payments' }), ['two']);
    await store.close();
  });

  it('resolves all of a filter’s resource conditions in one lookup query', async () => {
    const store = await open(':memory:');
    await store.writer.writeSpans(spans('a'));
    const statements: string[] = [];
    const db = { query: (sql: string, values?: Parameters<typeof store.db.query>[1]) => (statements.push(sql), store.db.query(sql, values)) };
    const prod: AttributeCondition = { key: 'deployment.environment', op: 'eq', value: 'prod' };
    const h2: AttributeCondition = { key: 'host.name', op: 'eq', value: 'h2' };
    const nowhere: AttributeCondition = { key: 'host.name', op: 'regex', value: 'x.*' };
    const own: AttributeCondition = { key: 'user.id', op: 'eq', value: 'u1' };
    const matches = await resourceMatches(db, 'a', { attributes: [prod], or: [{ attributes: [h2] }, { not: { attributes: [nowhere, own] } }] });
    assert.equal(statements.length, 1);
    assert.match(statements[0]!, /FROM resources/);
    const [checkoutId] = matches.get(prod)!;
    const [paymentsId] = matches.get(h2)!;
    assert.ok(checkoutId !== undefined && paymentsId !== undefined && checkoutId !== paymentsId);
    assert.deepEqual([matches.get(prod), matches.get(h2), matches.get(nowhere), matches.get(own)], [[checkoutId], [paymentsId], [], []]);
    assert.equal((await resourceMatches(db, 'a', { service: ['checkout'] })).size, 0);
    assert.equal(statements.length, 1, 'a filter without attribute conditions looks nothing up');
    await store.close();
  });

  it('matches resource attributes in alert rule queries the same way', async () => {
    const store = await open(':memory:');
    await store.writer.writeSpans(spans('a'));
    await store.writer.writeLogs([
      log({ tenant: 'a', resource: checkout, traceId: traceId(1) }),
      log({ tenant: 'a', resource: payments, traceId: traceId(2), attributes: attrs({ 'host.name': 'h1' }) }),
    ]);
    const signals = createAlertSignals(store.db);
    const range = { from: T0 - SEC, to: T0 + 10n * SEC };
    const on = (key: string, value: string): TelemetryFilter => ({ attributes: [{ key, op: 'eq', value }] });
    const total = async (filter: TelemetryFilter) => (await signals.spanStats('a', { range, filter, by: [] }))[0]?.total ?? 0;
    assert.equal(await total(on('host.name', 'h1')), 2, 'span 3 has its own host.name');
    assert.equal(await total(on('deployment.environment', 'staging')), 1);
    assert.equal(await total({ ...on('service.name', 'checkout'), not: on('host.name', 'h9') }), 2);
    assert.equal(await total(on('host.name', 'nowhere')), 0);
    const worst = await signals.worstSpans('a', { range, filter: on('service.name', 'payments'), limit: 5 });
    assert.deepEqual(worst.map((w) => w.spanId), [spanId(4)]);
    const counts = async (filter: TelemetryFilter) => (await signals.logCounts('a', { range, filter, by: [] }))[0]?.count ?? 0;
    assert.equal(await counts(on('host.name', 'h1')), 2, 'one log through its resource, one through its own attribute');
    assert.equal(await counts(on('service.name', 'payments')), 1);
    const traces = await signals.logTraces('a', { range, filter: on('service.name', 'checkout'), limit: 5 });
    assert.deepEqual(traces.map((t) => t.traceId), [traceId(1)]);
    // Another tenant's resources never match.
    assert.equal((await signals.spanStats('b', { range, filter: on('service.name', 'checkout'), by: [] }))[0]?.total ?? 0, 0);
    await store.close();
  });

  it('prune deletes the parts no span or log of their tenant refers to; one written again reads back', async () => {
    const store = await open(':memory:');
    const gone = resource('gone', { 'host.name': 'h1' });
    const oldScope = scope('old-scope', '1');
    await store.writer.writeSpans([
      span({ tenant: 'a', spanId: spanId(1), traceId: traceId(1), resource: gone, scope: oldScope }),
      span({ tenant: 'a', spanId: spanId(2), traceId: traceId(2), resource: checkout }),
      // Tenant b keeps the same resource (the same id): only tenant a's row goes.
      span({ tenant: 'b', spanId: spanId(3), traceId: traceId(3), resource: gone }),
    ]);
    // Referred to by a log only: kept.
    await store.writer.writeLogs([log({ tenant: 'a', resource: payments })]);
    await store.writer.writeSpans([span({ tenant: 'a', spanId: spanId(4), traceId: traceId(4), resource: payments })]);
    const parts = async () =>
      (await store.db.query(`SELECT tenant, service_name AS s FROM resources UNION ALL SELECT tenant, scope::JSON->>'name' FROM scopes ORDER BY ALL`)).map((r) => `${r.tenant}:${r.s}`);
    const before = await parts();
    assert.deepEqual(before, ['a:checkout', 'a:gone', 'a:old-scope', 'a:payments', 'a:test-scope', 'b:gone', 'b:test-scope']);

    assert.deepEqual(await store.pruneParts(1), { resources: 0, scopes: 0 }, 'every part is referred to');
    // What retention does to a trace out of its window, and to span 4 (its resource keeps its log).
    await store.db.writeLane('spans').use((conn) => conn.run(`DELETE FROM spans WHERE span_id IN ('${spanId(1)}', '${spanId(4)}')`));
    // batchRows 1: each table in several DELETE steps.
    assert.deepEqual(await store.pruneParts(1), { resources: 1, scopes: 1 });
    assert.deepEqual(await parts(), ['a:checkout', 'a:payments', 'a:test-scope', 'b:gone', 'b:test-scope']);
    assert.deepEqual((await store.traces.getTraces('b', [traceId(3)]))[0]![0]!.resource, gone);
    assert.deepEqual(await store.traces.services('a'), ['checkout']);

    // The registry forgot the pruned parts: a span using them again writes them again.
    await store.writer.writeSpans([span({ tenant: 'a', spanId: spanId(5), traceId: traceId(5), resource: gone, scope: oldScope })]);
    const [again] = await store.traces.getTraces('a', [traceId(5)]);
    assert.deepEqual([again![0]!.resource, again![0]!.scope], [gone, oldScope]);
    assert.deepEqual(await parts(), before);
    assert.deepEqual(await store.pruneParts(1), { resources: 0, scopes: 0 });
    await store.close();
  });

  it('prune keeps a part that a batch counted on while the prune ran (the batch commits after the candidates were read)', async () => {
    const store = await open(':memory:');
    const res = resource('reused');
    const old = span({ tenant: 'a', spanId: spanId(1), traceId: traceId(1), resource: res });
    await store.writer.writeSpans([old]);
    await store.db.writeLane('spans').use((conn) => conn.run(`DELETE FROM spans WHERE trace_id = '${old.traceId}'`));

    // The interleaving that would lose the row: the next batch finds the resource registered (so does
    // not write it), and its COMMIT waits until the prune has read the candidates (the resource is
    // unreferenced in that snapshot) and then 100 ms more, time for a DELETE that did not wait for it.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let committing!: () => void;
    const atCommit = new Promise<void>((resolve) => (committing = resolve));
    const lane = store.db.writeLane('spans');
    const use = lane.use.bind(lane);
    lane.use = (fn) =>
      use((conn) =>
        fn(
          new Proxy(conn, {
            get(target, prop) {
              if (prop === 'run') {
                return async (sql: string, ...rest: unknown[]) => {
                  if (sql === 'COMMIT') {
                    committing();
                    await gate;
                  }
                  return (target.run as (...a: unknown[]) => unknown).call(target, sql, ...rest);
                };
              }
              const value = Reflect.get(target, prop) as unknown;
              return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
            },
          }),
        ),
      );
    const query = store.db.query.bind(store.db);
    store.db.query = async (sql, params) => {
      const rows = await query(sql, params);
      if (sql.includes('SELECT DISTINCT tenant, id FROM resources')) setTimeout(release, 100);
      return rows;
    };

    const fresh = span({ tenant: 'a', spanId: spanId(2), traceId: traceId(2), resource: res });
    const writing = store.writer.writeSpans([fresh]);
    await atCommit;
    const pruned = await Promise.all([store.pruneParts(100), writing]);
    assert.deepEqual(pruned[0], { resources: 0, scopes: 0 });
    const [trace] = await store.traces.getTraces('a', [traceId(2)]);
    assert.deepEqual(trace![0]!.resource, res);
    await store.close();
  });

  it('refuses a file written in an older layout, saying what to do', async () => {
    const older = tempPath();
    const instance = await DuckDBInstance.create(older);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE spans (tenant VARCHAR, attrs_flat VARCHAR, resource VARCHAR)');
    conn.closeSync();
    instance.closeSync();
    await rejectsWith(open(older), 'UNAVAILABLE', 'written by an older teleql');

    const path = tempPath();
    await (await open(path)).close();
    const again = await DuckDBInstance.create(path);
    const c2 = await again.connect();
    await c2.run('UPDATE layout SET version = 1');
    c2.closeSync();
    again.closeSync();
    await rejectsWith(open(path), 'UNAVAILABLE', 'store layout 1');
  });

  it('refuses another program\'s database and leaves it as it is (QA round 38d: it was given teleql\'s tables)', async () => {
    const foreign = tempPath();
    const instance = await DuckDBInstance.create(foreign);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE invoices (id INTEGER, total DECIMAL(10, 2))');
    conn.closeSync();
    instance.closeSync();
    await rejectsWith(open(foreign), 'UNAVAILABLE', "tables teleql did not create (invoices): another program's database");
    const after = await DuckDBInstance.create(foreign);
    const c = await after.connect();
    const tables = (await c.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")).getRows().map((r) => r[0]);
    assert.deepEqual(tables, ['invoices']);
    c.closeSync();
    after.closeSync();
  });
});
