// Records whose attributes are too many for one column value (MAX_STORED_CHARS). Keys are never cut:
// they are the attribute's identity. Before (QA round 27, storage #1), every string leaf was cut to
// one length, keys included, so 200 keys sharing a 51-character prefix became one made-up key
// ("k8s.pod.label.app.kubernetes.io.compo…"), found by no filter, with droppedAttributesCount 0. Now
// values are cut, and when the keys alone do not fit, whole attributes are dropped (last first) and
// counted in droppedAttributesCount, as OpenTelemetry's attribute count limit does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import type { KeyValue } from '../../../src/model/telemetry.ts';
import { log, resource, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';

const PREFIX = 'k8s.pod.label.app.kubernetes.io.component.instance.'; // 51 characters
/** `n` attributes with 54-character keys sharing PREFIX, each value 60 'v's and its index (as QA sent). */
const labels = (n: number, prefix = PREFIX): KeyValue[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}${String(i).padStart(3, '0')}`, value: { stringValue: `${'v'.repeat(60)}${i}` } }));

const open = () => openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 2 });

/** Every stored key is one sent, in order (the first N), and no two are the same. */
function assertKeptPrefix(kept: readonly KeyValue[], sent: readonly KeyValue[]): void {
  assert.deepEqual(kept.map((a) => a.key), sent.slice(0, kept.length).map((a) => a.key));
  assert.equal(new Set(kept.map((a) => a.key)).size, kept.length);
}

/** Each stored key finds the record by an attribute filter (its stored value; the last one by presence too). */
async function assertFindable(store: DuckDbStore, signal: 'spans' | 'logs', kept: readonly KeyValue[]): Promise<void> {
  const search = (key: string, op: 'exists' | 'eq', value?: string) =>
    signal === 'spans'
      ? store.traces.searchSpans('a', { attributes: [{ key, op, value }] }, { first: 5 })
      : store.logs.searchLogs('a', { attributes: [{ key, op, value }] }, { first: 5 });
  for (const a of kept) assert.equal((await search(a.key, 'eq', (a.value as { stringValue: string }).stringValue)).items.length, 1, a.key);
  assert.equal((await search(kept.at(-1)!.key, 'exists')).items.length, 1);
}

describe('DuckDB store: records with more attributes than a column holds', () => {
  it('200 attributes with 54-character keys sharing a prefix come back as 200 distinct keys (only values cut), each findable', async () => {
    const store = await open();
    const sent = labels(200);
    await store.writer.writeSpans([span({ tenant: 'a', traceId: traceId(1), spanId: spanId(1), attributes: sent, droppedAttributesCount: 2 })]);
    await store.writer.writeLogs([log({ tenant: 'a', attributes: sent, droppedAttributesCount: 2 })]);
    const [[stored]] = (await store.traces.getTraces('a', [traceId(1)])) as [[ReturnType<typeof span>]];
    const logged = (await store.logs.searchLogs('a', {}, { first: 1 })).items[0]!.node;
    for (const record of [stored, logged]) {
      assertKeptPrefix(record.attributes, sent);
      // Whatever did not fit is counted; the sender's own count stays in it.
      assert.equal(record.attributes.length + record.droppedAttributesCount - 2, 200);
      assert.equal(record.attributes.length, 200, 'keys plus shortened values fit: nothing dropped');
      const value = (record.attributes[0]!.value as { stringValue: string }).stringValue;
      assert.ok(value.endsWith('…') && value.startsWith('vvv'), value);
    }
    await assertFindable(store, 'spans', stored.attributes);
    await assertFindable(store, 'logs', logged.attributes);
    await store.close();
  });

  it('attributes whose keys alone do not fit: the last are dropped and counted, the rest stored whole-keyed and findable', async () => {
    const store = await open();
    const sent = labels(600);
    await store.writer.writeSpans([span({ tenant: 'a', traceId: traceId(2), spanId: spanId(2), attributes: sent })]);
    await store.writer.writeLogs([log({ tenant: 'a', attributes: sent })]);
    const [[stored]] = (await store.traces.getTraces('a', [traceId(2)])) as [[ReturnType<typeof span>]];
    const logged = (await store.logs.searchLogs('a', {}, { first: 1 })).items[0]!.node;
    for (const record of [stored, logged]) {
      const n = record.attributes.length;
      assert.ok(n > 200 && n < 600, String(n));
      assertKeptPrefix(record.attributes, sent);
      assert.equal(record.droppedAttributesCount, 600 - n);
    }
    await assertFindable(store, 'spans', stored.attributes);
    await assertFindable(store, 'logs', logged.attributes);
    // A dropped attribute is not found: what a filter sees is what was stored.
    const last = sent[599]!.key;
    assert.equal((await store.traces.searchSpans('a', { attributes: [{ key: last, op: 'exists' }] }, { first: 5 })).items.length, 0);
    assert.equal((await store.logs.searchLogs('a', { attributes: [{ key: last, op: 'exists' }] }, { first: 5 })).items.length, 0);
    await store.close();
  });

  it("a resource's attributes follow the same rule: keys whole, the last dropped and counted, filters agree", async () => {
    const store = await open();
    const res = resource('wide');
    const sent = [...res.attributes, ...labels(600)];
    await store.writer.writeSpans([span({ tenant: 'a', traceId: traceId(3), spanId: spanId(3), resource: { ...res, attributes: sent } })]);
    const [[stored]] = (await store.traces.getTraces('a', [traceId(3)])) as [[ReturnType<typeof span>]];
    const kept = stored.resource.attributes;
    // Fewer than a span's: the resource's JSON, which holds each attribute's value type, must fit too.
    assert.ok(kept.length > 100 && kept.length < sent.length, String(kept.length));
    assertKeptPrefix(kept, sent);
    assert.equal(stored.resource.droppedAttributesCount, sent.length - kept.length);
    const find = (key: string) => store.traces.searchSpans('a', { attributes: [{ key, op: 'exists' }] }, { first: 5 });
    assert.equal((await find(kept.at(-1)!.key)).items.length, 1);
    assert.equal((await find(sent.at(-1)!.key)).items.length, 0);
    await store.close();
  });

  it('events too many for their column are dropped whole, last first, and counted; link IDs are never cut', async () => {
    const store = await open();
    const events = Array.from({ length: 300 }, (_, i) => ({ timeUnixNano: T0 + BigInt(i), name: `event-${i}`, attributes: labels(2, `${PREFIX}${i}.`), droppedAttributesCount: 0 }));
    const links = Array.from({ length: 400 }, (_, i) => ({ traceId: traceId(1000 + i), spanId: spanId(1000 + i), traceState: '', flags: 0, attributes: [], droppedAttributesCount: 0 }));
    await store.writer.writeSpans([span({ tenant: 'a', traceId: traceId(4), spanId: spanId(4), events, links, droppedEventsCount: 1 })]);
    const [[stored]] = (await store.traces.getTraces('a', [traceId(4)])) as [[ReturnType<typeof span>]];
    assert.ok(stored.events.length > 0 && stored.events.length < 300, String(stored.events.length));
    assert.equal(stored.droppedEventsCount, 1 + 300 - stored.events.length);
    assert.deepEqual(stored.events.map((e) => e.attributes.map((a) => a.key)), events.slice(0, stored.events.length).map((e) => e.attributes.map((a) => a.key)));
    for (const [i, l] of stored.links.entries()) {
      assert.equal(l.traceId, traceId(1000 + i));
      assert.equal(l.spanId, spanId(1000 + i));
    }
    assert.equal(stored.droppedLinksCount, 400 - stored.links.length);
    await store.close();
  });
});
