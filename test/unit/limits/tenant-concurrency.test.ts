// limits.graphql.concurrentPerTenant's slots, without sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTenantConcurrency } from '../../../src/limits/tenant-concurrency.ts';

test('a tenant at its cap gets no slot until one is given back; other tenants are not affected', () => {
  const c = createTenantConcurrency(2);
  const a1 = c.acquire('a');
  const a2 = c.acquire('a');
  assert.ok(a1 && a2);
  assert.equal(c.acquire('a'), undefined);
  assert.ok(c.acquire('b'), 'another tenant');
  a1();
  assert.equal(c.running('a'), 1);
  assert.ok(c.acquire('a'), 'the slot given back is taken again');
  assert.match(c.refusal, /^limits\.graphql\.concurrentPerTenant of 2 queries and mutations running at once reached for this tenant; retry after 1 s$/);
});

test('giving a slot back twice (the answer sent and the request closed) frees it once', () => {
  const c = createTenantConcurrency(1);
  const first = c.acquire('a')!;
  first();
  first();
  const second = c.acquire('a');
  assert.ok(second);
  assert.equal(c.acquire('a'), undefined, 'the double release did not free a second slot');
  assert.equal(c.running('a'), 1);
});

test('0 is unlimited', () => {
  const c = createTenantConcurrency(0);
  for (let i = 0; i < 100; i++) assert.ok(c.acquire('a'));
});
