import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatTimestamp } from '../../../resolvers/time.ts';
import { errorCodes, openHarness, type Harness } from './harness.ts';
import { BASE, OTHER_TENANT } from './telemetry-fixture.ts';

let h: Harness;
before(async () => {
  h = await openHarness();
});
after(() => h.close());

const data = async <T>(query: string, variables?: Record<string, unknown>, tenant?: string): Promise<T> => {
  const result = await h.run(query, variables, tenant);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as T;
};

describe('catalog queries', () => {
  test('services lists every service of the tenant, sorted', async () => {
    assert.deepEqual(await data('{ services }'), { services: ['batcher', 'cart-db', 'checkout', 'payments'] });
    assert.deepEqual(await data('{ services }', {}, OTHER_TENANT), { services: ['globex'] });
  });

  test('services honours from and to', async () => {
    const from = formatTimestamp(BASE + 60_000_000_000n);
    const to = formatTimestamp(BASE + 61_000_000_000n);
    assert.deepEqual(await data('query($from: Timestamp, $to: Timestamp) { services(from: $from, to: $to) }', { from, to }), {
      services: ['payments'],
    });
  });

  test('operations lists a service’s span names with their kind', async () => {
    const { operations } = await data<{ operations: { name: string; kind: string }[] }>('{ operations(service: "checkout") { name kind } }');
    assert.deepEqual(
      [...operations].sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: 'GET /cart', kind: 'SERVER' },
        { name: 'load cart', kind: 'INTERNAL' },
      ],
    );
  });

  test('attributeKeys lists keys per signal, optionally by prefix', async () => {
    const { span } = await data<{ span: string[] }>('{ span: attributeKeys(signal: SPAN) }');
    for (const key of ['http.route', 'http.status_code', 'db.system']) assert.ok(span.includes(key), key);
    const { http } = await data<{ http: string[] }>('{ http: attributeKeys(signal: SPAN, prefix: "http.") }');
    assert.deepEqual([...http].sort(), ['http.route', 'http.status_code']);
    const { log } = await data<{ log: string[] }>('{ log: attributeKeys(signal: LOG) }');
    assert.ok(log.includes('user.id'));
    const { resource } = await data<{ resource: string[] }>('{ resource: attributeKeys(signal: RESOURCE) }');
    assert.ok(resource.includes('service.name'));
    const { metric } = await data<{ metric: string[] }>('{ metric: attributeKeys(signal: METRIC) }');
    assert.ok(metric.includes('cpu'));
    const { first } = await data<{ first: string[] }>('{ first: attributeKeys(signal: SPAN, prefix: "http.", limit: 1) }');
    assert.equal(first.length, 1);
  });

  test('attributeValues lists the values of one key, up to limit', async () => {
    const { values } = await data<{ values: string[] }>('{ values: attributeValues(signal: SPAN, key: "http.route") }');
    assert.deepEqual([...values].sort(), ['/cart', '/pay']);
    const { one } = await data<{ one: string[] }>('{ one: attributeValues(signal: SPAN, key: "http.route", limit: 1) }');
    assert.equal(one.length, 1);
    const { codes } = await data<{ codes: string[] }>('{ codes: attributeValues(signal: SPAN, key: "http.status_code") }');
    assert.deepEqual([...codes].sort(), ['200', '503']);
  });

  test('catalog arguments are checked', async () => {
    assert.deepEqual(errorCodes(await h.run('{ attributeValues(signal: SPAN, key: "a", limit: 0) }')), ['GW_BAD_ARGUMENT']);
    assert.deepEqual(errorCodes(await h.run('{ attributeKeys(signal: SPAN, limit: 1001) }')), ['GW_BAD_ARGUMENT']);
    assert.deepEqual(errorCodes(await h.run('{ services(from: "2026-01-02", to: "2026-01-01") }')), ['GW_BAD_TIME_RANGE']);
    assert.deepEqual(errorCodes(await h.run('{ metrics(from: "2026-01-02", to: "2026-01-01") { name } }')), ['GW_BAD_TIME_RANGE']);
  });
});
