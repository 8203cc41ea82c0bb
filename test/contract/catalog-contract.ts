// The AttributeCatalog contract: which keys and values filters can use, per signal and tenant.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { attrs, log, metricPoint, numberPoint, resource, SEC, span, spanId, T0 } from '../helpers/telemetry-builders.ts';
import { freshTenant, rejectsWith, type StoreFactory, type StoreUnderTest } from './store-under-test.ts';

export function catalogContract(backend: string, open: StoreFactory): void {
  describe(`${backend} AttributeCatalog contract`, () => {
    let store: StoreUnderTest;
    const tenant = freshTenant('catalog');

    before(async () => {
      store = await open();
      const checkout = resource('checkout', { 'host.name': 'h1' });
      const payments = resource('payments', { 'cloud.region': 'eu' });
      await store.writer.writeSpans([
        span({ tenant, spanId: spanId(1), resource: checkout, attributes: attrs({ 'http.method': 'GET', 'http.route': '/a' }) }),
        span({ tenant, spanId: spanId(2), resource: checkout, attributes: attrs({ 'http.method': 'GET' }) }),
        span({ tenant, spanId: spanId(3), resource: checkout, attributes: attrs({ 'http.method': 'GET' }) }),
        span({ tenant, spanId: spanId(4), resource: payments, attributes: attrs({ 'http.method': 'POST' }), startTimeUnixNano: T0 + SEC }),
      ]);
      await store.writer.writeLogs([log({ tenant, resource: checkout, attributes: attrs({ 'log.file': 'app.log' }) })]);
      await store.writer.writeMetrics([metricPoint(numberPoint({ attributes: attrs({ route: '/a' }) }), {}, { tenant, resource: checkout })]);
    });
    after(() => store?.close());

    it('lists the attribute keys of spans, without their resources’ keys', async () => {
      assert.deepEqual(await store.catalog.attributeKeys(tenant, 'SPAN'), ['http.method', 'http.route']);
    });

    it('lists keys starting with a prefix, or within a time range', async () => {
      assert.deepEqual(await store.catalog.attributeKeys(tenant, 'SPAN', undefined, 'http.r'), ['http.route']);
      assert.deepEqual(await store.catalog.attributeKeys(tenant, 'SPAN', { from: T0 + SEC }), ['http.method']);
    });

    it('lists the keys of logs, metric labels and resources', async () => {
      assert.deepEqual(await store.catalog.attributeKeys(tenant, 'LOG'), ['log.file']);
      assert.ok((await store.catalog.attributeKeys(tenant, 'METRIC')).includes('route'));
      assert.deepEqual(await store.catalog.attributeKeys(tenant, 'RESOURCE'), ['cloud.region', 'host.name', 'service.name']);
    });

    it('lists the values of a key, most frequent first, up to the limit', async () => {
      assert.deepEqual(await store.catalog.attributeValues(tenant, 'SPAN', 'http.method'), ['GET', 'POST']);
      assert.deepEqual(await store.catalog.attributeValues(tenant, 'SPAN', 'http.method', undefined, 1), ['GET']);
      assert.deepEqual(await store.catalog.attributeValues(tenant, 'SPAN', 'http.method', { from: T0 + SEC }), ['POST']);
      assert.deepEqual(await store.catalog.attributeValues(tenant, 'RESOURCE', 'service.name'), ['checkout', 'payments']);
      assert.deepEqual(await store.catalog.attributeValues(tenant, 'LOG', 'log.file'), ['app.log']);
      assert.deepEqual(await store.catalog.attributeValues(tenant, 'METRIC', 'route'), ['/a']);
      assert.deepEqual(await store.catalog.attributeValues(tenant, 'SPAN', 'no.such.key'), []);
    });

    it('does not list values longer than 1,000 characters (prompts, stack traces are no filter choice)', async () => {
      const own = freshTenant('long-values');
      const [fits, long] = ['a'.repeat(1_000), 'b'.repeat(1_001)];
      const res = resource('long', { 'deploy.note': long });
      await store.writer.writeSpans([fits, long].map((note, i) => span({ tenant: own, spanId: spanId(100 + i), resource: res, attributes: attrs({ note }) })));
      await store.writer.writeLogs([log({ tenant: own, resource: res, attributes: attrs({ note: long }) })]);
      assert.deepEqual(await store.catalog.attributeValues(own, 'SPAN', 'note'), [fits]);
      assert.deepEqual(await store.catalog.attributeValues(own, 'LOG', 'note'), []);
      assert.deepEqual(await store.catalog.attributeValues(own, 'RESOURCE', 'deploy.note'), []);
      assert.ok((await store.catalog.attributeKeys(own, 'SPAN')).includes('note'), 'the key is still listed');
    });

    it('rejects an invalid limit as a BAD_QUERY', async () => {
      await rejectsWith(store.catalog.attributeValues(tenant, 'SPAN', 'http.method', undefined, -1), 'BAD_QUERY');
    });

    it('another tenant sees none of these keys or values', async () => {
      const stranger = freshTenant('stranger');
      for (const signal of ['SPAN', 'LOG', 'METRIC', 'RESOURCE'] as const) {
        assert.deepEqual(await store.catalog.attributeKeys(stranger, signal), [], signal);
      }
      assert.deepEqual(await store.catalog.attributeValues(stranger, 'SPAN', 'http.method'), []);
      assert.deepEqual(await store.catalog.attributeValues(stranger, 'RESOURCE', 'service.name'), []);
    });
  });
}
