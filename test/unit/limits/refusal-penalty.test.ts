// Which refusals close the connection: more than the threshold within one Retry-After window, per tenant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRefusalPenalty } from '../../../src/limits/refusal-penalty.ts';

test('past the threshold within one Retry-After window, refusals close; a new window starts over', () => {
  let now = 1_000_000;
  const p = createRefusalPenalty(2, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => p.refused('a', 1)), [false, false, true, true]);
  assert.equal(p.refused('b', 1), false, 'another tenant has its own count');
  now += 999;
  assert.equal(p.refused('a', 1), true, 'still the same window');
  now += 1;
  assert.deepEqual([1, 2, 3].map(() => p.refused('a', 1)), [false, false, true], 'the window ended: counted afresh');
});

test('the window is as long as the Retry-After that opened it', () => {
  let now = 0;
  const p = createRefusalPenalty(1, () => now);
  assert.equal(p.refused('a', 30), false);
  now += 29_000;
  assert.equal(p.refused('a', 1), true, 'a client told to wait 30 s that sends again within them');
});

test('threshold 0 never closes', () => {
  const p = createRefusalPenalty(0);
  assert.ok(Array.from({ length: 100 }, () => p.refused('a', 1)).every((closed) => !closed));
});
