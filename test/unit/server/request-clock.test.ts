// One GraphQL request reads one now (src/server/request-clock.ts): its relative Timestamps and its
// default ranges, however long its fields take; outside a request, now is the clock's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agoOf, relativeInstant, requestNow, withRequestClock } from '../../../src/server/request-clock.ts';
import { nowNs } from '../../../resolvers/args.ts';

const MS = 1_000_000n;

test('a request keeps the instant it first read; relative instants are known as such; outside a request it is the clock', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000 });
  await withRequestClock(async () => {
    const first = requestNow();
    assert.equal(first, 1_000n * MS);
    t.mock.timers.setTime(1_250); // a slow field later in the same request
    assert.equal(nowNs(), first, 'resolvers read the same instant');
    const hourAgo = relativeInstant(3_600_000n * MS);
    assert.equal(hourAgo, first - 3_600_000n * MS);
    assert.equal(agoOf(hourAgo), 3_600_000n * MS);
    assert.equal(agoOf(first - 1n), undefined, 'an absolute instant');
  });
  assert.equal(requestNow(), 1_250n * MS);
  assert.equal(agoOf(1_250n * MS - 3_600_000n * MS), undefined);
  await withRequestClock(async () => assert.equal(requestNow(), 1_250n * MS, 'a new request, a new now'));
});
