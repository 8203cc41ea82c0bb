// The notifier lease renews itself between ticks, over a real redis-server: a holder whose ticks
// stop coming (a slow evaluation) keeps it, and a lease that lapsed meanwhile (another replica may
// have notified) is reported lost once, so the engine distrusts what it delivered before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkAlertingConfig } from '../../../src/alerting/index.ts';
import { redisNotifyLease } from '../../../src/alerting/notify-lease.ts';
import { ConfigError } from '../../../src/config/merge.ts';
import { silentLogger } from '../../../src/logger.ts';
import { Redis } from '../../../src/startup/ioredis.ts';
import { testConfig } from '../../helpers/gateway.ts';
import { redisMissing, startRedis, type TestRedis } from '../../helpers/redis-server.ts';

describe('the notifier lease between ticks', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let raw: Redis;
  before(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url, {});
  });
  after(async () => {
    raw?.disconnect();
    await redis?.stop();
  });

  test('a holder not asked to renew for several lease periods keeps the lease until it closes', async () => {
    const key = 'test:lease:timer';
    const a = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 300, key });
    const b = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 300, key });
    try {
      assert.equal(await a.renew(), true);
      for (let i = 0; i < 8; i++) {
        await sleep(150);
        assert.equal(await b.renew(), false, `b took the lease after ${(i + 1) * 150} ms`);
      }
      assert.equal(a.held(), true);
      await a.close();
      assert.equal(await b.renew(), true, 'released: the next renew takes it');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a lease taken by another replica between ticks is reported lost at the next renew, even when free again by then', async () => {
    const key = 'test:lease:lapsed';
    const a = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 600, key });
    try {
      assert.equal(await a.renew(), true);
      // As if a's renewals had failed for a lease period: another replica holds the key a while.
      await raw.set(key, 'another-replica', 'PX', 600);
      await sleep(450); // two of a's renewal rounds
      await raw.del(key);
      assert.equal(await a.renew(), false, 'reported lost once: the other may have notified meanwhile');
      assert.equal(await a.renew(), true, 'then held again');
    } finally {
      await a.close();
    }
  });

  test('a lease that expired between two renews is reported lost once', async () => {
    const key = 'test:lease:expired';
    const a = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 200, key, renewEveryMs: 0 });
    try {
      assert.equal(await a.renew(), true);
      await sleep(300);
      assert.equal(await raw.exists(key), 0);
      assert.equal(await a.renew(), false);
      assert.equal(await a.renew(), true);
    } finally {
      await a.close();
    }
  });
});

test('alerting.leaseMs is at least a second, however long the ticks', () => {
  const alerting = testConfig().alerting;
  // Renewals no longer wait for ticks: a lease shorter than two ticks is fine.
  assert.doesNotThrow(() => checkAlertingConfig({ ...alerting, tickMs: 5000, leaseMs: 1000 }));
  assert.throws(() => checkAlertingConfig({ ...alerting, leaseMs: 999 }), (err) => err instanceof ConfigError && /^alerting\.leaseMs: expected an integer of at least 1000 \(actual: 999\)$/.test(err.message));
});
