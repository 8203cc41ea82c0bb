// The Redis tail transport's own parts against a real redis-server: how batches are cut into
// messages, what a hung Redis does, URLs in messages (QA round 29), and which records go to another
// replica (only what its subscribers can match).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import pino from 'pino';
import { createRedisTransport, defaultChannelPrefix, encodeRecords } from '../../../src/tail/redis-transport.ts';
import { Redis, redisUrlForDisplay } from '../../../src/startup/ioredis.ts';
import { createTailBus } from '../../../src/tail/bus.ts';
import { decodeRequest } from '../../../src/otlp/codec.ts';
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

describe('what goes to another replica: only the records its subscribers can match', { skip: redisMissing, timeout: 30_000 }, () => {
  const CHANNEL = 'teleql:tail:v2:spans:t';
  const span = (service: string, name = 'op') => ({ tenant: 't', name, resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] } }) as never;
  /** A plain Redis client that records every announcement on the control channel and the services of every record sent on CHANNEL. */
  async function observer(url: string) {
    const conn = new Redis(url, {});
    const announcements: { replica: string; channels: string[]; wants?: Record<string, unknown> }[] = [];
    const sent: string[] = [];
    conn.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === 'teleql:tail:replicas') return void announcements.push(JSON.parse(message.toString()));
      const records = deserialize(message.subarray(message.indexOf(10) + 1)) as { resource: { attributes: { value: { stringValue: string } }[] } }[];
      sent.push(...records.map((r) => r.resource.attributes[0]!.value.stringValue));
    });
    await conn.subscribe('teleql:tail:replicas', CHANNEL);
    return { conn, announcements, sent, publish: (msg: object) => conn.publish('teleql:tail:replicas', JSON.stringify(msg)) };
  }

  test('a replica announces the services its tails filter on, and wants all once one tail does not filter', async () => {
    const redis = await startRedis();
    const obs = await observer(redis.url);
    const transport = createRedisTransport({ url: redis.url, logger: pino({ level: 'silent' }), heartbeatMs: 60_000 });
    const bus = createTailBus({}, transport);
    try {
      await bus.start();
      const lastOfB = () => obs.announcements.filter((a) => a.replica === transport.replicaId).at(-1);
      const checkout = bus.subscribe('t', 'spans', () => true, { index: { field: 'service', value: 'checkout' } });
      const cart = bus.subscribe('t', 'spans', () => true, { index: { field: 'service', value: 'cart' } });
      await waitFor(async () => lastOfB()?.wants?.[CHANNEL], (w) => JSON.stringify(w) === JSON.stringify({ service: ['checkout', 'cart'] }), 'both services announced');
      const unfiltered = bus.subscribe('t', 'spans', () => true);
      await waitFor(async () => lastOfB(), (a) => a?.channels.includes(CHANNEL) === true && a.wants?.[CHANNEL] === undefined, 'all wanted (no wants for the channel)');
      unfiltered.close();
      cart.close();
      await waitFor(async () => lastOfB()?.wants?.[CHANNEL], (w) => JSON.stringify(w) === JSON.stringify({ service: ['checkout'] }), 'back to checkout alone');
      // A tail of several services (no index key) wants those: the union is announced.
      const either = bus.subscribe('t', 'spans', () => true, { wants: { service: ['frontend', 'payments'] } });
      await waitFor(async () => lastOfB()?.wants?.[CHANNEL], (w) => JSON.stringify(w) === JSON.stringify({ service: ['checkout', 'frontend', 'payments'] }), 'the union with a tail of two services');
      either.close();
      await waitFor(async () => lastOfB()?.wants?.[CHANNEL], (w) => JSON.stringify(w) === JSON.stringify({ service: ['checkout'] }), 'checkout alone once more');
      // Announcements stay small (QA round 38b: three tails on a 12 MB service name made messages
      // Redis cut every replica for): a value over 1,024 characters, or values past 256 KiB in all,
      // make the channel want all instead.
      const long = bus.subscribe('t', 'spans', () => true, { index: { field: 'service', value: 'x'.repeat(1025) } });
      await waitFor(async () => lastOfB(), (a) => a?.channels.includes(CHANNEL) === true && a.wants?.[CHANNEL] === undefined, 'a long value: all wanted');
      long.close();
      await waitFor(async () => lastOfB()?.wants?.[CHANNEL], (w) => JSON.stringify(w) === JSON.stringify({ service: ['checkout'] }), 'checkout alone again');
      const many = Array.from({ length: 300 }, (_, i) => bus.subscribe('t', 'spans', () => true, { index: { field: 'service', value: `${i}`.padEnd(1000, '.') } }));
      await waitFor(async () => lastOfB(), (a) => a?.channels.includes(CHANNEL) === true && a.wants?.[CHANNEL] === undefined, '300 KB of values: all wanted');
      assert.ok(JSON.stringify(lastOfB()).length < 10_000);
      for (const sub of many) sub.close();
      checkout.close();
      await waitFor(async () => lastOfB(), (a) => a?.channels.length === 0, 'the channel given up');
    } finally {
      await bus.close();
      obs.conn.disconnect();
      await redis.stop();
    }
  });

  test('a publisher sends only the wanted services, all of them to a replica that wants all or announced no wants (an earlier version)', async () => {
    const redis = await startRedis();
    const obs = await observer(redis.url);
    const a = createRedisTransport({ url: redis.url, logger: pino({ level: 'silent' }), heartbeatMs: 60_000 });
    const local: string[] = [];
    try {
      await a.start!();
      await obs.publish({ replica: 'b', channels: [CHANNEL], wants: { [CHANNEL]: { service: ['checkout'], name: ['GET /cart'] } } });
      await waitFor(async () => a.hasListeners('t', 'spans'), (v) => v, 'A hears of B');
      // Listening here only now: hasListeners counts this replica's own listeners too.
      a.listen('t', 'spans', (records) => local.push(...records.map((r) => (r as unknown as { name: string }).name)));
      // The span named GET /cart goes for its name; frontend's other span goes nowhere else.
      a.publish('t', 'spans', [span('checkout', 'a'), span('frontend', 'b'), span('frontend', 'GET /cart'), span('cart', 'c')]);
      await waitFor(async () => a.stats().published, (n) => n === 2, 'the two wanted records sent');
      assert.deepEqual(obs.sent, ['checkout', 'frontend']);
      assert.deepEqual(local, ['a', 'b', 'GET /cart', 'c'], 'listeners on the publishing replica get every record');
      // Nothing wanted in a batch: nothing sent.
      a.publish('t', 'spans', [span('cart')]);
      // A second replica that announced no wants (a version before them) gets everything.
      await obs.publish({ replica: 'c', channels: [CHANNEL] });
      await waitFor(
        async () => {
          a.publish('t', 'spans', [span('cart')]);
          return obs.sent;
        },
        (sent) => sent.includes('cart'),
        'cart sent once C is heard of',
      );
      // C gone (an empty announcement): back to B's wants; an unreadable wants entry means all.
      await obs.publish({ replica: 'c', channels: [] });
      await obs.publish({ replica: 'b', channels: [CHANNEL], wants: { [CHANNEL]: { service: 'checkout' } } });
      const before = obs.sent.length;
      await waitFor(
        async () => {
          a.publish('t', 'spans', [span('frontend')]);
          return obs.sent.slice(before);
        },
        (sent) => sent.includes('frontend'),
        'a malformed wants entry taken as all',
      );
    } finally {
      await a.close!();
      obs.conn.disconnect();
      await redis.stop();
    }
  });
});

describe('a batch that is exactly what its OTLP request decodes into goes to other replicas as that request', { skip: redisMissing, timeout: 30_000 }, () => {
  const LOGS = 'teleql:tail:v2:logs:t';
  const logsRequest = (services: string[], extra = '') => {
    // The second record has neither time: its observed time is the request's receipt.
    const body = Buffer.from(
      JSON.stringify({
        resourceLogs: services.map((service) => ({
          resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000001', body: { stringValue: `from ${service}${extra}` } }, { body: { stringValue: 'no time' } }] }],
        })),
      }),
    );
    const request = { body, format: 'json' as const, receivedAt: 1_700_000_000_123_000_000n };
    return { request, records: decodeRequest('logs', body, 'json', 't', undefined, request.receivedAt).items };
  };

  test('the other replica decodes it into the same records; one with no wanted record is not sent; records go serialized when under half are wanted, to a replica that does not decode requests, and for a body over 4 MiB', async () => {
    const redis = await startRedis();
    const obs = new Redis(redis.url, {});
    const kinds: string[] = [];
    obs.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      const m = deserialize(message.subarray(message.indexOf(10) + 1)) as unknown;
      kinds.push(Array.isArray(m) ? `records:${m.length}` : 'request');
    });
    await obs.subscribe(LOGS);
    const a = createRedisTransport({ url: redis.url, logger: pino({ level: 'silent' }), heartbeatMs: 60_000 });
    const b = createRedisTransport({ url: redis.url, logger: pino({ level: 'silent' }), heartbeatMs: 60_000 });
    const onB: unknown[][] = [];
    try {
      await Promise.all([a.start!(), b.start!()]);
      b.listen('t', 'logs', (records) => onB.push([...records]), () => ({ service: ['checkout'] }));
      await waitFor(async () => a.hasListeners('t', 'logs'), (v) => v, 'A hears of B');
      const first = logsRequest(['checkout', 'cart']);
      a.publish('t', 'logs', first.records, first.request);
      await waitFor(async () => onB.length, (n) => n === 1, 'the request decoded on B');
      // Whole (cart's records too: B's subscribers filter them), equal to A's, times included.
      assert.deepEqual(onB[0], first.records);
      assert.equal((onB[0]![1] as { observedTimeUnixNano: bigint }).observedTimeUnixNano, 1_700_000_000_123_000_000n);
      assert.deepEqual(kinds, ['request']);
      assert.deepEqual({ published: a.stats().published, publishedRequests: a.stats().publishedRequests }, { published: 4, publishedRequests: 1 });
      // None of its records wanted on B: nothing sent.
      const cart = logsRequest(['cart']);
      a.publish('t', 'logs', cart.records, cart.request);
      // A quarter wanted: those records, serialized (cheaper than B decoding the whole request).
      const few = logsRequest(['checkout', 'cart', 'cart', 'cart']);
      a.publish('t', 'logs', few.records, few.request);
      await waitFor(async () => onB.length, (n) => n === 2, 'the wanted quarter on B');
      assert.deepEqual(onB[1], few.records.slice(0, 2));
      onB.splice(1);
      kinds.splice(1);
      // Over 4 MiB: as its records, in messages of about 1 MB.
      const large = logsRequest(['checkout'], 'x'.repeat(4 << 20));
      a.publish('t', 'logs', large.records, large.request);
      await waitFor(async () => onB.flat().length, (n) => n === 6, 'the large request as records');
      assert.deepEqual(onB.slice(1).flat(), large.records);
      // The record of 4 MiB alone in its message, its companion in another.
      assert.deepEqual(kinds, ['request', 'records:1', 'records:1']);
      // A replica that does not say it decodes requests (one of an earlier version) listens too:
      // every listener of the channel gets the same messages, so they are records again.
      const control = obs.duplicate();
      await control.publish('teleql:tail:replicas', JSON.stringify({ replica: 'old', channels: [LOGS] }));
      control.disconnect();
      await waitFor(
        async () => {
          const again = logsRequest(['checkout']);
          a.publish('t', 'logs', again.records, again.request);
          return kinds.at(-1);
        },
        (k) => k === 'records:2',
        'records for the earlier replica',
      );
      assert.deepEqual(onB.at(-1), logsRequest(['checkout']).records);
    } finally {
      await Promise.all([a.close!(), b.close!()]);
      obs.disconnect();
      await redis.stop();
    }
  });

  test('what another publisher sends that cannot be read is dropped and logged at most once a minute; a request over 4 MiB is not decoded', async () => {
    const redis = await startRedis();
    const lines: { msg: string; err?: string }[] = [];
    const b = createRedisTransport({ url: redis.url, logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) }), heartbeatMs: 60_000 });
    const raw = new Redis(redis.url, {});
    const onB: unknown[][] = [];
    try {
      await b.start!();
      b.listen('t', 'logs', (records) => onB.push([...records]));
      await waitFor(async () => (await raw.pubsub('NUMSUB', LOGS))[1], (n) => n === 1, 'B subscribed');
      // A header of any length before the line break (the sender's replica ID).
      const send = (message: unknown) => raw.publish(LOGS, Buffer.concat([Buffer.from('short\n'), serialize(message)]));
      for (let i = 0; i < 50; i++) await send({ request: Buffer.from('not protobuf'), format: 'protobuf', receivedAt: 1n });
      await raw.publish(LOGS, Buffer.from('no line break at all'));
      const large = logsRequest(['checkout'], 'x'.repeat(4 << 20));
      await send({ request: large.request.body, format: 'json', receivedAt: 1n });
      const good = logsRequest(['checkout']);
      await send({ request: good.request.body, format: 'json', receivedAt: good.request.receivedAt });
      await waitFor(async () => onB.length, (n) => n === 1, 'the readable request delivered');
      assert.deepEqual(onB[0], good.records);
      const warned = lines.filter((l) => /undecodable tail message/.test(l.msg));
      assert.equal(warned.length, 1, JSON.stringify(warned));
    } finally {
      raw.disconnect();
      await b.close!();
      await redis.stop();
    }
  });
});
