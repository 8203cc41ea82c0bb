// The notifier lease over a real redis-server: one holder at a time, renewals keep it, a release or
// an expiry hands it over; with Redis unreachable for a whole lease period a replica notifies anyway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { redisNotifyLease, soleReplicaLease } from '../../../src/alerting/notify-lease.ts';
import { silentLogger } from '../../../src/logger.ts';
import { redisMissing, startRedis, type TestRedis } from '../../helpers/redis-server.ts';
import { waitFor } from '../../helpers/wait-for.ts';

describe('the notifier lease over redis', { skip: redisMissing }, () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test('one replica holds the lease; renewing keeps it; closing hands it to the next to renew', async () => {
    const key = 'test:lease:handover';
    const a = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 60_000, key });
    const b = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 60_000, key });
    try {
      assert.equal(await a.renew(), true);
      assert.equal(await b.renew(), false);
      assert.equal(await a.renew(), true, 'the holder renews');
      assert.equal(await b.renew(), false);
      assert.deepEqual([a.held(), b.held()], [true, false]);
      await a.close();
      assert.equal(a.held(), false);
      assert.equal(await b.renew(), true, 'released: the next renew takes it');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a holder that stops renewing loses the lease when it expires', async () => {
    const key = 'test:lease:expiry';
    // renewEveryMs 0: a renews only when told to, as a dead replica would not.
    const a = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 200, key, renewEveryMs: 0 });
    const b = redisNotifyLease({ url: redis.url, logger: silentLogger(), ttlMs: 200, key });
    try {
      assert.equal(await a.renew(), true);
      assert.equal(await b.renew(), false);
      // a goes quiet (as a dead replica would); b gets it once the key expires.
      await waitFor(() => b.renew(), (held) => held, 'the lease taken over after expiry');
      assert.equal(await a.renew(), false, 'the old holder learns at its next renew');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('with Redis unreachable a replica does not notify at first, and does once a lease period has passed', async () => {
    // A port nothing listens on: connections are refused.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    let now = 1_000_000;
    const lease = redisNotifyLease({ url: `redis://127.0.0.1:${port}`, logger: silentLogger(), ttlMs: 10_000, now: () => now });
    try {
      assert.equal(await lease.renew(), false);
      now += 10_000;
      assert.equal(await lease.renew(), true, 'no answer for a lease period: duplicates rather than silence');
    } finally {
      await lease.close();
    }
  });

  test('without Redis the one replica always notifies', async () => {
    const lease = soleReplicaLease();
    assert.equal(await lease.renew(), true);
    assert.equal(lease.held(), true);
  });
});
