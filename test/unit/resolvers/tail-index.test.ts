// Which equality term of a tail filter the bus routes by: the most selective single-valued one at
// the filter's top level, or none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexKeyOf, wantsOf } from '../../../resolvers/tail.ts';

test('a tail filter is indexed by its one trace ID, else its one name, else its one service', () => {
  assert.deepEqual(indexKeyOf({ service: ['cart'], name: ['GET /'], traceId: ['ABCDEF0123456789ABCDEF0123456789'] }), { field: 'traceId', value: 'abcdef0123456789abcdef0123456789' });
  assert.deepEqual(indexKeyOf({ service: ['cart'], name: ['GET /'] }), { field: 'name', value: 'GET /' });
  assert.deepEqual(indexKeyOf({ service: ['cart'], name: ['GET /', 'POST /'] }), { field: 'service', value: 'cart' });
  assert.equal(indexKeyOf({ service: ['cart', 'pay'] }), undefined, 'several values: no single key');
  assert.equal(indexKeyOf({ or: [{ service: ['cart'] }] }), undefined, 'only top-level terms are required');
  assert.equal(indexKeyOf(undefined), undefined);
});

test('a tail filter without a key wants the values of a field it lists several of, so other replicas send only those', () => {
  assert.deepEqual(wantsOf({ service: ['cart', 'pay'] }), { service: ['cart', 'pay'] });
  assert.deepEqual(wantsOf({ service: ['cart', 'pay'], traceId: ['AB'.repeat(16), 'cd'.repeat(16)] }), { traceId: ['ab'.repeat(16), 'cd'.repeat(16)] });
  assert.deepEqual(wantsOf({ name: ['GET /', 'POST /'] }), { name: ['GET /', 'POST /'] });
  assert.equal(wantsOf({ or: [{ service: ['cart'] }, { service: ['pay'] }] }), undefined, 'only top-level terms are required');
  assert.equal(wantsOf({ severity: ['ERROR'] } as never), undefined);
  assert.equal(wantsOf(undefined), undefined);
});
