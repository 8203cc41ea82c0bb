// attributeKeys past MAX_KEYS keeps the keys on the most records (listed sorted) and notes the cut;
// attributeValues notes a list cut at its limit (bigquery QA D5: the first 1,000 keys alphabetically,
// silently, lost `http.route` and `user.id` to `k0…k2024`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { MAX_KEYS } from '../../../src/stores/duckdb/catalog.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import type { QueryNotes } from '../../../src/stores/types.ts';
import { attrs, resource, span, spanId } from '../../helpers/telemetry-builders.ts';

describe('the attribute catalog says when it cut a list', () => {
  let store: DuckDbStore;
  const tenant = 'catalog-cut';
  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    const rare = Object.fromEntries(Array.from({ length: MAX_KEYS + 50 }, (_, i) => [`k${String(i).padStart(4, '0')}`, 'x']));
    const res = resource('svc', {});
    await store.writer.writeSpans([
      span({ tenant, spanId: spanId(1), resource: res, attributes: attrs({ ...rare, 'zz.common': 'a', 'http.route': '/a' }) }),
      ...Array.from({ length: 5 }, (_, i) => span({ tenant, spanId: spanId(10 + i), resource: res, attributes: attrs({ 'zz.common': `v${i}`, 'http.route': '/b' }) })),
    ]);
  });
  after(() => store?.close());

  it('keeps the most frequent keys, sorted, with a note when more keys match', async () => {
    const keys = (await store.catalog.attributeKeys(tenant, 'SPAN')) as string[] & QueryNotes;
    assert.equal(keys.length, MAX_KEYS);
    assert.ok(keys.includes('zz.common') && keys.includes('http.route'), 'the common keys are kept');
    assert.deepEqual([...keys].sort(), [...keys], 'listed sorted');
    assert.match(keys.notes?.[0] ?? '', new RegExp(`more than ${MAX_KEYS} keys match; the ${MAX_KEYS} on the most records are listed`));
    const narrowed = (await store.catalog.attributeKeys(tenant, 'SPAN', undefined, 'zz.')) as string[] & QueryNotes;
    assert.deepEqual(narrowed, ['zz.common']);
    assert.equal(narrowed.notes, undefined);
  });

  it('lists at most `limit` keys: the most frequent, sorted, with the note', async () => {
    const two = (await store.catalog.attributeKeys(tenant, 'SPAN', undefined, '', 2)) as string[] & QueryNotes;
    assert.deepEqual([...two], ['http.route', 'zz.common']);
    assert.match(two.notes?.[0] ?? '', /more than 2 keys match; the 2 on the most records are listed/);
    const resourceKeys = (await store.catalog.attributeKeys(tenant, 'RESOURCE', undefined, '', 1)) as string[] & QueryNotes;
    assert.deepEqual([...resourceKeys], ['service.name']);
    await assert.rejects(store.catalog.attributeKeys(tenant, 'SPAN', undefined, '', MAX_KEYS + 1), /limit must be an integer from 1 to 1000/);
  });

  it('notes a values list cut at its limit, and not one that fits', async () => {
    const cut = (await store.catalog.attributeValues(tenant, 'SPAN', 'zz.common', undefined, 2)) as string[] & QueryNotes;
    assert.equal(cut.length, 2);
    assert.match(cut.notes?.[0] ?? '', /more than 2 values/);
    const all = (await store.catalog.attributeValues(tenant, 'SPAN', 'http.route', undefined, 2)) as string[] & QueryNotes;
    assert.deepEqual([...all], ['/b', '/a']);
    assert.equal(all.notes, undefined);
  });
});
