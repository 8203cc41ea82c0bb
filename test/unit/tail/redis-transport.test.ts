// The Redis tail transport's own parts against a real redis-server: how batches are cut into
// messages, what a hung Redis does, and URLs in messages (QA round 29).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deserialize } from 'node:v8';
import pino from 'pino';
import { createRedisTransport, defaultChannelPrefix, encodeRecords } from '../../../src/tail/redis-transport.ts';
import { redisUrlForDisplay } from '../../../src/startup/ioredis.ts';
import { redisMissing, startRedis } from '../../helpers/redis-server.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { freePort } from '../../helpers/free-port.ts';

describe('encodeRecords', () => {
  test('cuts a batch into messages of about 1 MB, writes a shared resource once per message, and keeps bigint, NaN and ±Infinity', () => {
    const resource = { attributes: [{ key: 'blob', value: { stringValue: 'r'.repeat(300_000) } }] };
    const records = Array.from({ length: 5000 }, (_, i) => ({ tenant: 't', resource, start: BigInt(i) * 1_000_000_000_000n, ratio: i === 0 ? NaN : i === 1 ? -Infinity : i, body: 'x'.repeat(200) }));
    const { messages, tooLarge } = encodeRecords(records);
    assert.equal(tooLarge, 0);
    assert.ok(messages.length > 1 && messages.every((m) => m.bytes.length <= 1.5 * 2 ** 20), messages.map((m) => m.bytes.length).join(' '));
    assert.equal(messages.reduce((n, m) => n + m.records, 0), 5000);
    const back = messages.flatMap((m) => deserialize(m.bytes) as typeof records);
    assert.deepEqual(back.map((r) => r.start), records.map((r) => r.start));
    assert.ok(Number.isNaN(back[0]!.ratio));
    assert.equal(back[1]!.ratio, -Infinity);
    // One resource object per message, as in the batch: not one copy per record.
    const first = deserialize(messages[0]!.bytes) as typeof records;
    assert.ok(first.every((r) => r.resource === first[0]!.resource));
  });

  test('a record too large for any message is left out and counted; the others go', () => {
    const records = [{ tenant: 't', body: 'a' }, { tenant: 't', body: 'b'.repeat(25 * 2 ** 20) }, { tenant: 't', body: 'c' }];
    const { messages, tooLarge } = encodeRecords(records);
    assert.equal(tooLarge, 1);
    assert.deepEqual(messages.flatMap((m) => (deserialize(m.bytes) as { body: string }[]).map((r) => r.body)), ['a', 'c']);
  });
});

test('the channel prefix keeps databases apart; URLs lose their credentials in messages', () => {
  assert.equal(defaultChannelPrefix('redis://127.0.0.1:6379'), 'teleql:tail');
  assert.equal(defaultChannelPrefix('redis://127.0.0.1:6379/0'), 'teleql:tail');
  assert.equal(defaultChannelPrefix('rediss://:pw@redis:6380/3'), 'teleql:tail:db3');
  assert.equal(defaultChannelPrefix('redis://redis:6379?db=4'), 'teleql:tail:db4');
  assert.equal(redisUrlForDisplay('redis://127.0.0.1:4649/0?password=s3cr3t'), 'redis://127.0.0.1:4649/0');
  assert.equal(redisUrlForDisplay('redis://user:p@ss@127.0.0.1:4649'), 'redis://127.0.0.1:4649');
  assert.equal(redisUrlForDisplay('user:pw@host:6379'), '…@host:6379');
});

test('a start that cannot connect names the URL without its password', async () => {
  const port = await freePort(); // nothing listens there
  const transport = createRedisTransport({ url: `redis://127.0.0.1:${port}/0?password=s3cr3t`, logger: pino({ level: 'silent' }) });
  await assert.rejects(transport.start!(), (err: Error) => err.message.startsWith(`tail.redis.url: cannot connect to redis://127.0.0.1:${port}/0: `) && !err.message.includes('s3cr3t'));
  await transport.close!();
});

test('a Redis that hangs (SIGSTOP: nothing closes) is found by the heartbeats, logged, and reconnected to once it answers', { skip: redisMissing, timeout: 30_000 }, async () => {
  const redis = await startRedis();
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line).msg as string) });
  const a = createRedisTransport({ url: redis.url, logger, heartbeatMs: 200 });
  const b = createRedisTransport({ url: redis.url, logger: pino({ level: 'silent' }), heartbeatMs: 200 });
  const received: string[] = [];
  try {
    await Promise.all([a.start!(), b.start!()]);
    b.listen('t', 'spans', (records) => received.push(...records.map((r) => (r as unknown as { name: string }).name)));
    await waitFor(async () => a.hasListeners('t', 'spans'), (v) => v, 'A knows B listens');
    process.kill(redis.pid, 'SIGSTOP');
    await waitFor(async () => lines.some((l) => /stopped delivering this replica's own heartbeats/.test(l)), (v) => v, 'the hang noticed');
    process.kill(redis.pid, 'SIGCONT');
    await waitFor(async () => a.stats().reconnects, (n) => n >= 1, 'A reconnected');
    // The reconnect is counted when the connection opens, the line logged once it is subscribed again.
    await waitFor(async () => lines.some((l) => /redis connection back/.test(l)), (v) => v, `the recovery logged (lines: ${lines.join(' | ')})`);
    // And tails flow again (B heard of again by A, whose publishes go through).
    await waitFor(
      async () => {
        if (a.hasListeners('t', 'spans')) a.publish('t', 'spans', [{ tenant: 't', name: 'after' } as never]);
        return received.length;
      },
      (n) => n >= 1,
      'a record from A on B after the hang',
    );
  } finally {
    try {
      process.kill(redis.pid, 'SIGCONT');
    } catch {
      // already gone
    }
    await Promise.all([a.close!(), b.close!()]);
    await redis.stop();
  }
});
