// A tenant's refusal window: opened by its first refusal after the last window ended, as long as
// that refusal's Retry-After, counting the refusals in it; and the thresholds that act on the count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRefusalPenalty, passes } from '../../../src/limits/refusal-penalty.ts';

test('refusals are counted per tenant within one Retry-After window; a new window starts over', () => {
  let now = 1_000_000;
  const p = createRefusalPenalty(() => now);
  assert.deepEqual([1, 2, 3, 4].map(() => p.refused('a', 1).refusals), [1, 2, 3, 4]);
  assert.equal(p.refused('b', 1).refusals, 1, 'another tenant has its own count');
  now += 999;
  assert.deepEqual(p.refused('a', 1), { refusals: 5, endsAt: 1_001_000 }, 'still the same window');
  now += 1;
  assert.deepEqual([1, 2, 3].map(() => p.refused('a', 1).refusals), [1, 2, 3], 'the window ended: counted afresh');
});

test('the window is as long as the Retry-After that opened it', () => {
  let now = 0;
  const p = createRefusalPenalty(() => now);
  assert.equal(p.refused('a', 30).endsAt, 30_000);
  now += 29_000;
  assert.deepEqual(p.refused('a', 1), { refusals: 2, endsAt: 30_000 }, 'a client told to wait 30 s that sends again within them');
});

test('a threshold is passed by the refusals beyond it; 0 is never passed', () => {
  assert.equal(passes({ refusals: 2, endsAt: 0 }, 2), false);
  assert.equal(passes({ refusals: 3, endsAt: 0 }, 2), true);
  assert.equal(passes({ refusals: 1_000_000, endsAt: 0 }, 0), false);
});
